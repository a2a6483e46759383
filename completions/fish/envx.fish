# fish completion for envx: asks the binary, so it follows the command table.
function __envx_complete
    set -l words (commandline -opc) (commandline -ct)
    envx __complete $words[2..-1] 2>/dev/null
end
complete -c envx -f -a '(__envx_complete)'
