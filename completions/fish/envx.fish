# fish completion for envx: asks the binary, so it follows the command table
# and the vault; commands and options come with their descriptions.
function __envx_complete
    set -l words (commandline -opc) (commandline -ct)
    env ENVX_COMPLETE_DESCRIBE=1 envx __complete $words[2..-1] 2>/dev/null
end
complete -c envx -f -a '(__envx_complete)'
