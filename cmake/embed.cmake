# embed_files(TARGET_VAR NAMESPACE file...) turns data files into a generated C++ source with
# `std::string_view <ns>::<symbol>()` accessors, so the binary carries them (service models, web assets).
function(eddy_embed out_var symbol input)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/embedded_${symbol}.cc")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DINPUT=${input} -DOUTPUT=${out} -DSYMBOL=${symbol}
            -P "${PROJECT_SOURCE_DIR}/cmake/embed_one.cmake"
    DEPENDS "${input}" "${PROJECT_SOURCE_DIR}/cmake/embed_one.cmake"
    COMMENT "Embedding ${input}")
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()
