# Man pages and shell completion for the skylog command, made at build time from its --help
# texts by `skylog help --write-docs` (cli/man.c), so they cannot drift from --help and nothing
# generated is kept in the source tree. Installed with the command.
set(SKY_CLI_DOCS ${CMAKE_CURRENT_BINARY_DIR}/clidocs)
add_custom_command(OUTPUT ${SKY_CLI_DOCS}/stamp
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${SKY_CLI_DOCS}
  COMMAND $<TARGET_FILE:skylog_cli> help --write-docs ${SKY_CLI_DOCS}
  COMMAND ${CMAKE_COMMAND} -E touch ${SKY_CLI_DOCS}/stamp
  DEPENDS skylog_cli
  COMMENT "man pages and completion from skylog --help")
add_custom_target(skylog_cli_docs ALL DEPENDS ${SKY_CLI_DOCS}/stamp)
# A component of their own (a plain install installs every component): test_cli_docs installs
# them alone, needing only this target built, not everything `make install` needs.
install(DIRECTORY ${SKY_CLI_DOCS}/man1 DESTINATION ${CMAKE_INSTALL_MANDIR} COMPONENT clidocs)
install(FILES ${SKY_CLI_DOCS}/bash-completion/skylog
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT clidocs)
install(FILES ${SKY_CLI_DOCS}/zsh/_skylog DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/site-functions
  COMPONENT clidocs)
