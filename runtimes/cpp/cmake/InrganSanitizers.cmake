# INRGAN_SANITIZE=ON: ASan + UBSan for every target of this project (OpenVINO and TBB stay
# uninstrumented; their known leaks are suppressed by sanitizers/lsan.supp in the tests).
if(INRGAN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()
