# Warnings for our own targets, and no fused multiply-add anywhere: the grids, the display
# mapping and the Gaussian transform must round every product and sum separately, as numpy.
function(inrgan_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -ffp-contract=off)
endfunction()
