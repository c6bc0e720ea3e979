#!/bin/sh
# Print a deploy/ template with its @NAME@ placeholders filled in.
#
#   deploy/render.sh TEMPLATE [NAME=VALUE ...] > OUTPUT
#
# A placeholder without a value given here and without a default below is an error, as
# is a value that could break out of its line (a newline, ; { } # $ quotes, backslash).
# APP_HOSTS, HTTP_LISTEN, HTTPS_LISTEN and ONION_LISTEN are lists: their line is written
# once for each space-separated value ("server a:8000 ...;" then "server b:8000 ...;").
# Exits 1 naming what is wrong, 2 on a usage error; writes nothing then.
set -eu

usage() {
    echo "usage: deploy/render.sh TEMPLATE [NAME=VALUE ...] > OUTPUT" >&2
    exit 2
}
[ $# -ge 1 ] || usage
template=$1
shift
if [ ! -f "$template" ] || [ ! -r "$template" ]; then
    echo "render.sh: cannot read $template" >&2
    exit 2
fi

# Defaults: the paths and ports deploy/INSTALL.md uses.
RENDER_HTTP_LISTEN="80 [::]:80"
RENDER_HTTPS_LISTEN="443 [::]:443"
RENDER_ONION_LISTEN="127.0.0.1:8080"
RENDER_STATIC_ROOT="/opt/dissent/venv/lib/python3.11/site-packages/dissent/static"
RENDER_ACME_ROOT="/var/www/acme"
RENDER_HIDDEN_SERVICE_DIR="/var/lib/tor/dissent"
export RENDER_HTTP_LISTEN RENDER_HTTPS_LISTEN RENDER_ONION_LISTEN RENDER_STATIC_ROOT \
    RENDER_ACME_ROOT RENDER_HIDDEN_SERVICE_DIR

for assignment in "$@"; do
    name=${assignment%%=*}
    value=${assignment#*=}
    case $assignment in *=*) ;; *) usage ;; esac
    case $name in
        "" | [!A-Z]* | *[!A-Z0-9_]*)
            echo "render.sh: $name is not a placeholder name (A-Z, 0-9, _)" >&2
            exit 1
            ;;
    esac
    case $value in
        *"
"* | *[\;\{\}\#\$\"\'\\\`]*)
            echo "render.sh: the value of $name holds a character that would break the file" >&2
            exit 1
            ;;
    esac
    export "RENDER_$name=$value"
done

# awk reads the values from its environment: -v would interpret backslashes.
awk -v lists=" APP_HOSTS HTTP_LISTEN HTTPS_LISTEN ONION_LISTEN " '
function replaced(text, name, value,    out, at, mark) {
    mark = "@" name "@"
    out = ""
    while ((at = index(text, mark)) > 0) {
        out = out substr(text, 1, at - 1) value
        text = substr(text, at + length(mark))
    }
    return out text
}
function fill(text,    rest, name, out) {
    out = text
    rest = text
    while (match(rest, /@[A-Z][A-Z0-9_]*@/)) {
        name = substr(rest, RSTART + 1, RLENGTH - 2)
        rest = substr(rest, RSTART + RLENGTH)
        if (!(("RENDER_" name) in ENVIRON) || ENVIRON["RENDER_" name] == "") {
            printf "render.sh: no value for %s (line %d); give %s=...\n", name, NR, name > "/dev/stderr"
            failed = 1
            continue
        }
        if (index(lists, " " name " ") == 0)
            out = replaced(out, name, ENVIRON["RENDER_" name])
    }
    return out
}
{
    line = fill($0)
    listed = ""
    rest = line
    while (match(rest, /@[A-Z][A-Z0-9_]*@/)) {
        listed = substr(rest, RSTART + 1, RLENGTH - 2)
        break
    }
    if (listed == "") {
        output[++lines] = line
        next
    }
    count = split(ENVIRON["RENDER_" listed], values, " ")
    for (i = 1; i <= count; i++)
        output[++lines] = replaced(line, listed, values[i])
}
END {
    if (failed)
        exit 1
    for (i = 1; i <= lines; i++)
        print output[i]
}
' "$template"
