# shellcheck shell=bash
#
# Installs the Debian packages that building, testing and running Sluice need, and only
# when one is missing: a machine that has them all is left alone and no network is used.
# Sourced by tools/test and tools/demo; safe without a terminal or stdin (CI).
#
#   source tools/lib/deps.sh
#   sluice_deps_install                # the default set below
#   sluice_deps_install extra-package  # the default set plus more

SLUICE_DEPS=(
	cmake gcc make pkg-config
	libssl-dev liblmdb-dev libpam0g-dev libcrypt-dev libcunit1-dev libpam-wrapper libnss-wrapper
	openssl curl ca-certificates python3 python3-pytest isync offlineimap3 procps
)

# Prints the names among "$@" that dpkg does not report as installed.
sluice_deps_missing() {
	local pkg status
	for pkg in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		if [[ "$status" != "install ok installed" ]]; then
			printf '%s\n' "$pkg"
		fi
	done
}

sluice_deps_install() {
	local -a want=("${SLUICE_DEPS[@]}" "$@") missing=() sudo=()
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "deps: dpkg-query not found; install these by hand: ${want[*]}" >&2
		return 0
	fi
	mapfile -t missing < <(sluice_deps_missing "${want[@]}")
	if ((${#missing[@]} == 0)); then
		return 0
	fi
	if ((EUID != 0)); then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "deps: missing packages (${missing[*]}) and not root without sudo" >&2
			return 1
		fi
		# -n: never ask for a password; fail instead of waiting for a terminal.
		sudo=(sudo -n)
	fi
	echo "deps: installing ${missing[*]}" >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends -o Dpkg::Options::=--force-confdef \
		-o Dpkg::Options::=--force-confold "${missing[@]}" </dev/null >&2
}
