# bash completion for libos-run(1), libos-vcpu's launcher. Installed as
# share/bash-completion/completions/libos-run; tests/install/install_test.sh checks that every long
# option of `libos-run --help` is completed.
_libos_run() {
  local cur prev words cword
  _init_completion -n = || return

  # After PROGRAM (the first word that is not an option or an option's value), complete as for it.
  local i=1 word
  while [ $i -lt $cword ]; do
    word=${words[i]}
    case $word in
      --) _command_offset $((i + 1)); return ;;
      -n | -c | --cpus | --cpu-map | --topology | --numa | --cpu-quota) i=$((i + 2)); continue ;;
      --trace-format | --trace-filter | --trace-time) i=$((i + 2)); continue ;;
      -*) i=$((i + 1)); continue ;;
      *) _command_offset $i; return ;;
    esac
  done

  case $prev in
    -n | --cpus)
      COMPREPLY=($(compgen -W "1 2 4 8 16 32 64 128 256 1024" -- "$cur"))
      return ;;
    -c | --cpu-map)
      local online
      online=$(cat /sys/devices/system/cpu/online 2>/dev/null)
      COMPREPLY=($(compgen -W "$online" -- "$cur"))
      return ;;
    --topology)
      COMPREPLY=($(compgen -W "flat host sockets= dies= clusters= cores= threads=" -- "$cur"))
      compopt -o nospace
      return ;;
    --numa)
      COMPREPLY=($(compgen -W "1 2 4 8" -- "$cur"))
      return ;;
    --cpu-quota)
      COMPREPLY=($(compgen -W "0.5 1 1.5 2 4" -- "$cur"))
      return ;;
    --trace-format)
      COMPREPLY=($(compgen -W "text json" -- "$cur"))
      return ;;
    --trace-filter)
      COMPREPLY=($(compgen -W "%cpu %numa %file %process %memory %signal" -- "$cur"))
      return ;;
    --trace-time)
      COMPREPLY=($(compgen -W "wall wall-us relative none" -- "$cur"))
      return ;;
  esac

  case $cur in
    --trace=*)
      cur=${cur#--trace=}
      _filedir
      return ;;
    --trace-format=*)
      COMPREPLY=($(compgen -W "text json" -- "${cur#--trace-format=}"))
      return ;;
    --trace-filter=*)
      COMPREPLY=($(compgen -W "%cpu %numa %file %process %memory %signal" -- "${cur#--trace-filter=}"))
      return ;;
    --trace-time=*)
      COMPREPLY=($(compgen -W "wall wall-us relative none" -- "${cur#--trace-time=}"))
      return ;;
    -*)
      COMPREPLY=($(compgen -W "-n -c --cpus --cpu-map --topology --numa --cpu-quota --cpus-from-quota
        --cpuid --no-propagate --trace --trace= --trace-stack --trace-format --trace-filter
        --trace-filter= --trace-time --trace-time= --trace-per-process --stats --strict --no-shim --no-views --no-fuse
        --show -h --help -V --version --" -- "$cur"))
      [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
      return ;;
  esac
  COMPREPLY=($(compgen -c -- "$cur"))
}
complete -F _libos_run libos-run
