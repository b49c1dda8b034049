#!/bin/sh
# Put PMC Figure Search into this user's application menu (no root needed), or take it out again.
#
#   "PMC Figure Search/install.sh"               from the unpacked download (the script sits in the app folder)
#   packaging/linux/install.sh BUNDLE_DIR        from a source checkout, for a bundle built with `make bundle`
#   install.sh --uninstall                       remove the menu entry and the icons
#
# Writes $XDG_DATA_HOME/applications/pmc-figure-search.desktop (default ~/.local/share) with the absolute path of
# the app, and the icon in each size under $XDG_DATA_HOME/icons/hicolor/. The app folder itself stays where it is:
# move it first, then run this script again.
set -eu

NAME=pmc-figure-search
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
DESKTOP_FILE="$DATA/applications/$NAME.desktop"
SIZES="16 32 48 64 128 256 512"
HERE="$(cd "$(dirname "$0")" && pwd)"

refresh_menus() {
    # Desktops notice the change on their own; these caches only make it faster where the tools exist.
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$DATA/applications" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$DESKTOP_FILE"
    for size in $SIZES; do rm -f "$DATA/icons/hicolor/${size}x${size}/apps/$NAME.png"; done
    refresh_menus
    echo "removed $DESKTOP_FILE and the icons"
    exit 0
fi

BUNDLE="$(cd "${1:-$HERE}" && pwd)"
EXE="$BUNDLE/pmc-search"
if [ ! -x "$EXE" ]; then
    echo "install.sh: no executable pmc-search in $BUNDLE (pass the unpacked 'PMC Figure Search' folder)" >&2
    exit 2
fi
# Icons: inside a bundle under _internal/resources, in a checkout under resources/.
ICONS="$BUNDLE/_internal/resources/icons"
[ -d "$ICONS" ] || ICONS="$BUNDLE/resources/icons"
TEMPLATE="$HERE/$NAME.desktop"  # beside this script: in packaging/linux/, or copied into the app folder
if [ ! -f "$TEMPLATE" ]; then
    echo "install.sh: $NAME.desktop not found next to this script" >&2
    exit 2
fi

# Desktop Entry quoting: the path goes in double quotes (it has spaces); inside them \ " ` $ are escaped with \,
# and % is doubled because Exec expands %-codes.
quoted_exe="\"$(printf '%s' "$EXE" | sed -e 's/[\\"`$]/\\&/g' -e 's/%/%%/g')\""

mkdir -p "$DATA/applications"
tmp="$DESKTOP_FILE.tmp.$$"
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
        Exec=*) printf 'Exec=%s\n' "$quoted_exe" ;;
        TryExec=*) printf 'TryExec=%s\n' "$EXE" ;;
        *) printf '%s\n' "$line" ;;
    esac
done <"$TEMPLATE" >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$DESKTOP_FILE"

for size in $SIZES; do
    src="$ICONS/$NAME-$size.png"
    [ -f "$src" ] || continue
    mkdir -p "$DATA/icons/hicolor/${size}x${size}/apps"
    cp "$src" "$DATA/icons/hicolor/${size}x${size}/apps/$NAME.png"
done
refresh_menus
echo "installed $DESKTOP_FILE -> $EXE"
