# bash completion for vmctl.
#
# Commands, subcommands and each command's options are read from the
# program itself when completing (`vmctl --help`, `vmctl CMD [SUB] --help`),
# so they always match the vmctl being completed. Guest names come from
# `vmctl list --json`, asked only when vmctld's socket exists (a completion
# never starts the daemon). Memory backings are offered after --backend:
# `probe` takes kinds (anonymous, thp, memfd, shm, file[:DIR],
# hugetlbfs[:DIR], devdax:/dev/daxX.Y, fsdax:PATH), the guest commands take
# a path, memfd, memfd:hugetlb or anonymous.
#
# shellcheck disable=SC2046,SC2086 # word lists split on purpose

# the vmctl being completed ($_vmctl_bin), its help, quietly
_vmctl_run() { "${_vmctl_bin:-vmctl}" "$@" 2>/dev/null; }

# _vmctl_list_after HEADING: the first words of the indented lines under
# HEADING in the help on stdin
_vmctl_list_after() {
    awk -v h="$1" '$0 == h { f = 1; next } f && /^$/ { f = 0 } f && /^  [a-z]/ { print $1 }'
}

_vmctl_commands() { _vmctl_run --help | _vmctl_list_after "commands:"; }

# _vmctl_subcommands CMD: what CMD's help names as its subcommands
_vmctl_subcommands() {
    local h
    h=$(_vmctl_run "$1" --help)
    {
        printf '%s\n' "$h" | _vmctl_list_after "subcommands:"
        printf '%s\n' "$h" | grep -o "'vmctl $1 [a-z][a-z-]* --help'" | awk '{ print $3 }'
    } | sort -u
}

# _vmctl_options WORDS...: the options of `vmctl WORDS --help`, one a line:
# "SHORT LONG ARG" (SHORT "-" when there is none, ARG "=" when it takes a
# value, else "-")
_vmctl_options() {
    _vmctl_run "$@" --help |
        sed -n 's/^  *\(-[A-Za-z], \)\{0,1\}\(--[a-z0-9][a-z0-9-]*\)\(=\{0,1\}\).*/\1 \2 \3/p' |
        awk '{ if (NF == 1) print "-", $1, "-"; else if (NF == 2 && $2 == "=") print "-", $1, "="; else if (NF == 2) print substr($1, 1, 2), $2, "-"; else print substr($1, 1, 2), $2, $3 }'
}

# _vmctl_guests: the names of the guests vmctld supervises
_vmctl_guests() {
    local sock=${_vmctl_socket:-${VMCTL_SOCKET:-/run/vmctl/vmctld.sock}}
    local -a a=()

    [ -S "$sock" ] || return 0
    [ -n "$_vmctl_socket" ] && a=(--socket "$_vmctl_socket")
    timeout 5 "${_vmctl_bin:-vmctl}" "${a[@]}" list --json 2>/dev/null |
        grep -o '"name": *"[^"]*"' | sed 's/^"name": *"\(.*\)"$/\1/'
}

# _vmctl_add WORD...: the words that start with $cur
_vmctl_add() {
    local w
    for w in "$@"; do
        [[ $w == "$cur"* ]] && COMPREPLY+=("$w")
    done
}

_vmctl_files() {
    local f
    while IFS= read -r f; do
        compopt -o filenames 2>/dev/null
        COMPREPLY+=("$f")
    done < <(compgen -f -- "$cur")
}

_vmctl_dirs() {
    local f
    compopt -o filenames 2>/dev/null
    while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen -d -- "$cur")
}

# _vmctl_kind_path KIND: KIND:PATH, the path completed (directories, or DAX
# devices for devdax)
_vmctl_kind_path() {
    local p=${cur#*:} f
    compopt -o nospace 2>/dev/null
    if [ "$1" = devdax ]; then
        for f in /dev/dax*; do [ -e "$f" ] && [[ $f == "$p"* ]] && COMPREPLY+=("devdax:$f"); done
    else
        while IFS= read -r f; do COMPREPLY+=("$1:$f/"); done < <(compgen -d -- "$p")
    fi
}

# a backing of the probed slot (vmctl probe --backend)
_vmctl_probe_backing() {
    case $cur in
    devdax:* | fsdax:* | file:* | hugetlbfs:*) _vmctl_kind_path "${cur%%:*}" ;;
    *)
        _vmctl_add anonymous thp memfd shm file hugetlbfs
        local n=${#COMPREPLY[@]}
        _vmctl_add file: hugetlbfs: devdax: fsdax:
        [ ${#COMPREPLY[@]} -gt $n ] && compopt -o nospace 2>/dev/null
        ;;
    esac
}

# a guest's RAM backing (launch, xml, backend probe, migrate --dest-backend;
# validate also takes devdax:PATH and fsdax:PATH)
_vmctl_guest_backing() {
    case $cur in
    devdax:* | fsdax:*) [ "$1" = validate ] && _vmctl_kind_path "${cur%%:*}" ;;
    *)
        _vmctl_add memfd memfd:hugetlb anonymous
        [ "$1" = validate ] && _vmctl_add devdax: fsdax:
        _vmctl_files
        ;;
    esac
}

# _vmctl_value PATH LONG: complete $cur as the value of option LONG of the
# command PATH ("launch", "pages check")
_vmctl_value() {
    case "$1:$2" in
    probe:--backend) _vmctl_probe_backing ;;
    ksm-check:--backend) _vmctl_files ;;
    *:--backend | migrate:--dest-backend) _vmctl_guest_backing "$1" ;;
    *:--guest) _vmctl_add tiny linux ;;
    *:--accel) _vmctl_add auto kvm tcg ;;
    *:--mem-merge) _vmctl_add on off ;;
    *:--type) _vmctl_add kvm qemu ;;
    probe:--mode) _vmctl_add bitmap clear ring ;;
    dirty-rate:--mode) _vmctl_add auto page-sampling dirty-bitmap dirty-ring ;;
    migrate:--strategy) _vmctl_add auto precopy postcopy multifd auto-converge ;;
    migrate:--to) _vmctl_add local ;;
    wss:--mechanism) _vmctl_add auto page-idle damon dirty-log ;;
    validate:--only)
        local head=${cur%"${cur##*,}"} g
        for g in kvm-device backend dirty-log accessed dirty-rate migration ksm; do
            [[ $head$g == "$cur"* ]] && COMPREPLY+=("$head$g")
        done
        ;;
    lab*:--kernel)
        _vmctl_add bookworm bookworm-generic bookworm-backports trixie trixie-cloud bullseye host
        _vmctl_files
        ;;
    xml:--spec)
        _vmctl_add -
        _vmctl_files
        ;;
    *:--image-dir) _vmctl_dirs ;;
    *:--nvdimm | *:--virtio-pmem | *:--dest-nvdimm | *:--dest-virtio-pmem | *:--html | *:--serial | *:--serial-socket | *:--socket)
        _vmctl_files
        ;;
    esac
}

# words[] and cword: COMP_WORDS with the pieces readline split at ':' and
# '=' ("devdax" ":" "/dev/d", "--backend" "=" "mem") joined again
_vmctl_words() {
    local i w
    words=()
    cword=0
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        w=${COMP_WORDS[i]}
        if ((i > 1)) && [[ $w == [:=] || ${COMP_WORDS[i - 1]} == [:=] ]] && [ ${#words[@]} -gt 0 ]; then
            words[${#words[@]} - 1]+=$w
        else
            words+=("$w")
        fi
        ((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
    done
}

_vmctl() {
    local -a words path=()
    local cword cur raw prev i cmd subs opts long arg o npos=0 _vmctl_socket='' _vmctl_bin=vmctl

    COMPREPLY=()
    _vmctl_words
    cur=${words[cword]}
    raw=${COMP_WORDS[COMP_CWORD]}
    [[ ${words[0]} == */* && -x ${words[0]} ]] && _vmctl_bin=${words[0]}

    # options before the command
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        --socket) _vmctl_socket=${words[i + 1]} && ((i++)) ;;
        --socket=*) _vmctl_socket=${words[i]#--socket=} ;;
        -*) ;;
        *) break ;;
        esac
    done
    if ((i >= cword)); then
        if [ "${words[cword - 1]}" = --socket ]; then
            _vmctl_files
        elif [[ $cur == --socket=* ]]; then
            cur=${cur#--socket=}
            _vmctl_files
            COMPREPLY=("${COMPREPLY[@]/#/--socket=}")
        elif [[ $cur == -* ]]; then
            _vmctl_add --json --socket --help --version
        else
            _vmctl_add $(_vmctl_commands)
        fi
    else
        cmd=${words[i]}
        path=("$cmd")
        ((i++))
        subs=$(_vmctl_subcommands "$cmd")
        if [ -n "$subs" ]; then
            # options of the command itself may come before its subcommand
            while ((i < cword)) && [[ ${words[i]} == -* ]]; do ((i++)); done
            if ((i >= cword)); then
                if [[ $cur == -* ]]; then
                    _vmctl_add $(_vmctl_options "$cmd" | awk '$2 != "--help" { print $2 }') --help
                else
                    _vmctl_add $subs
                fi
                path=()
            else
                path+=("${words[i]}")
                ((i++))
            fi
        fi
        if [ ${#path[@]} -gt 0 ]; then
            opts=$(_vmctl_options "${path[@]}")
            # which option's value is $cur, if any
            long=
            if [[ $cur == --*=* ]]; then
                o=${cur%%=*}
                arg=$(printf '%s\n' "$opts" | awk -v o="$o" '$2 == o { print $3 }')
                if [ "$arg" = "=" ]; then
                    cur=${cur#*=}
                    _vmctl_value "${path[*]}" "$o"
                    COMPREPLY=("${COMPREPLY[@]/#/$o=}")
                fi
            else
                prev=${words[cword - 1]}
                ((cword - 1 >= i)) && [[ $prev == -* ]] &&
                    long=$(printf '%s\n' "$opts" | awk -v o="$prev" '($1 == o || $2 == o) && $3 == "=" { print $2 }')
                if [ -n "$long" ]; then
                    _vmctl_value "${path[*]}" "$long"
                elif [[ $cur == --* ]]; then
                    _vmctl_add $(printf '%s\n' "$opts" | awk '{ print $2 }')
                elif [[ $cur == -* ]]; then
                    _vmctl_add $(printf '%s\n' "$opts" | awk '$1 != "-" { print $1 } { print $2 }')
                else
                    # the arguments: count those before this one
                    for ((; i < cword; i++)); do
                        o=${words[i]}
                        if [[ $o == -* ]]; then
                            [[ $o == *=* ]] ||
                                [ -z "$(printf '%s\n' "$opts" | awk -v o="$o" '($1 == o || $2 == o) && $3 == "=" { print }')" ] ||
                                ((i++))
                        else
                            npos=$((npos + 1))
                        fi
                    done
                    case "${path[*]}" in
                    console | dirty-rate | info | kill | migrate | qmp | stop | wss | xml)
                        ((npos == 0)) && _vmctl_add $(_vmctl_guests)
                        ;;
                    "backend probe") ((npos == 0)) && _vmctl_guest_backing ;;
                    probe) ((npos == 0)) && _vmctl_add dirty-log ;;
                    help) ((npos == 0)) && _vmctl_add $(_vmctl_commands) ;;
                    "pages check" | "pages diff") _vmctl_files ;;
                    esac
                fi
            fi
        fi
    fi

    # readline replaces only the last piece of a word it split at ':' or
    # '=': hand back the replies relative to that piece
    [[ $raw == [:=] ]] && raw=
    if [ "$raw" != "${words[cword]}" ]; then
        o=${words[cword]%"$raw"}
        COMPREPLY=("${COMPREPLY[@]#"$o"}")
    fi
    return 0
}

complete -F _vmctl vmctl
