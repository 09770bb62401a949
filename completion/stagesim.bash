# bash completion for stagesim: commands, each command's flags (read from
# its own --help, so they cannot drift), scenario names (from `stagesim
# scenarios`) and files. Needs nothing but bash's compgen.

_stagesim_flags() {
    # $1: the stagesim to ask; $2: the command. `up --help` is the whole
    # usage, which names other commands' flags too: only its option lines.
    # Every command takes --help.
    echo --help
    if [[ $2 == up ]]; then
        "$1" up --help 2>/dev/null | grep -E '^ +--' | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
    else
        # ("stagesim --tls" in a help text names another command's flag)
        "$1" "$2" --help 2>/dev/null | sed -E 's/stagesim( [a-z]+)? --[a-z-]+//g' |
            grep -o -- '--[a-z][a-z0-9-]*' | sort -u
    fi
}

_stagesim_scenarios() {
    "$1" scenarios 2>/dev/null | awk 'NF { print $1 }'
}

_stagesim() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local bin=${COMP_WORDS[0]} cmd="" i
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done

    # A flag's value first: whatever the command.
    case $prev in
    --scenario)
        COMPREPLY=($(compgen -W "$(_stagesim_scenarios "$bin")" -- "$cur") $(compgen -f -X '!*.json' -- "$cur"))
        return ;;
    --journal|--junit|--html|--tls-cert|--tls-key|--cacert|--digest-out|--expect-digest)
        COMPREPLY=($(compgen -f -- "$cur"))
        return ;;
    --tls-dir)
        COMPREPLY=($(compgen -d -- "$cur"))
        return ;;
    --token-source)
        COMPREPLY=($(compgen -W "query header subprotocol" -- "$cur"))
        return ;;
    --backend-port|--auth-port|--redis-port|--control-port|--control-token|--control-host|--bind|\
    --seed|--time-scale|--count|--interval|--concurrency|--timeout-ms|--url|--backend|--auth|\
    --redis|--email|--password|--e2e-key|--ws-path|--status|--field|--max-latency-ms|--breaker)
        return ;;   # a value only the user knows
    esac

    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "up validate scenarios fault probe drill --help --version" -- "$cur"))
        return
    fi
    case $cmd in
    up)
        COMPREPLY=($(compgen -W "$(_stagesim_flags "$bin" up)" -- "$cur")) ;;
    validate|scenarios)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--help" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_stagesim_scenarios "$bin")" -- "$cur"))
            [[ $cmd == validate ]] && COMPREPLY+=($(compgen -f -X '!*.json' -- "$cur"))
        fi ;;
    fault)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(_stagesim_flags "$bin" fault)" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "add ls rm reset" -- "$cur"))
        fi ;;
    probe)
        local kind=""
        for ((i = i + 1; i < COMP_CWORD; i++)); do
            [[ ${COMP_WORDS[i]} != -* ]] && { kind=${COMP_WORDS[i]}; break; }
        done
        if [[ -z $kind && $cur != -* ]]; then
            COMPREPLY=($(compgen -W "health golden-path auth redis" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_stagesim_flags "$bin" probe)" -- "$cur"))
        fi ;;
    drill)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(_stagesim_flags "$bin" drill)" -- "$cur"))
        else
            COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur"))
        fi ;;
    esac
}

complete -F _stagesim stagesim
