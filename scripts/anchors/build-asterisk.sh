#!/usr/bin/env bash
# Builds Asterisk 22 (bundled pjproject) once into a cache directory outside the repository,
# as the park anchor of `go tool task bench-anchors`. Debian 12 has no asterisk package.
#
# Only what the park + retrieve flow needs is built (chan_pjsip and its session/SDP/REFER
# modules, res_parking, bridges, app_dial, pbx_config, ulaw, music on hold); CDR, CEL, sounds
# and everything else are cut in menuselect so the build stays short on 2 cores.
#
# Environment:
#   PARKWAY_ASTERISK_CACHE  install directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/parkway/asterisk-22)
#   ASTERISK_REF            git ref to build (default 22.10.1, a release of branch 22)
#   ASTERISK_SRC            a local asterisk git dir (bare or not) or a source tarball;
#                           unset: git clone from https://github.com/asterisk/asterisk
#   PJPROJECT_SRC           a local pjproject git dir: the tag third-party/versions.mak names is
#                           packed with git archive into the externals cache (and its checksum
#                           recorded, since it is not byte-identical to Asterisk's mirror copy)
#   PJPROJECT_TARBALL       a pjproject-<version>.tar.bz2 to use instead
#                           neither set: Asterisk's build downloads and verifies its own copy
#   BUILD_JOBS              make -j (default: nproc)
# Prints the path of the asterisk binary on its last line.
set -euo pipefail

cache="${PARKWAY_ASTERISK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parkway/asterisk-22}"
ref="${ASTERISK_REF:-22.10.1}"
jobs="${BUILD_JOBS:-$(nproc)}"
bin="$cache/sbin/asterisk"
stamp="$cache/.built-$ref"

built() { [[ -x "$bin" && -f "$stamp" ]]; }
if built; then
	echo "asterisk $ref already built in $cache" >&2
	echo "$bin"
	exit 0
fi
# One build at a time: a second run waits for the first and then finds its result.
mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
flock 9
if built; then
	echo "$bin"
	exit 0
fi

log() { echo "build-asterisk: $*" >&2; }

deps=(build-essential libedit-dev libjansson-dev libxml2-dev libsqlite3-dev uuid-dev libssl-dev
	pkg-config bzip2 patch wget)
missing=()
for p in "${deps[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	if [[ $(id -u) -ne 0 ]]; then
		echo "build-asterisk: missing Debian packages ${missing[*]} (run as root or install them)" >&2
		exit 1
	fi
	apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

src="$cache/src"
rm -rf "$src"
mkdir -p "$src" "$cache/externals"

# --- Asterisk source -------------------------------------------------------------------
if [[ -n "${ASTERISK_SRC:-}" && -f "$ASTERISK_SRC" ]]; then
	log "unpacking $ASTERISK_SRC"
	tar -xf "$ASTERISK_SRC" -C "$src" --strip-components=1
elif [[ -n "${ASTERISK_SRC:-}" ]]; then
	log "asterisk $ref from local git dir $ASTERISK_SRC"
	git --git-dir="$(git -C "$ASTERISK_SRC" rev-parse --absolute-git-dir)" archive "$ref" | tar -x -C "$src"
else
	log "cloning asterisk $ref from GitHub"
	git clone --quiet --depth 1 --branch "$ref" https://github.com/asterisk/asterisk "$src" || {
		echo "build-asterisk: cannot clone github.com/asterisk/asterisk; on a machine without GitHub set ASTERISK_SRC (a git dir or tarball) and PJPROJECT_SRC or PJPROJECT_TARBALL" >&2
		exit 1
	}
fi

# --- pjproject tarball for the bundled build ------------------------------------------
# shellcheck disable=SC1091
pjver="$(. "$src/third-party/versions.mak" && echo "$PJPROJECT_VERSION")"
tarball="pjproject-$pjver.tar.bz2"
if [[ -n "${PJPROJECT_TARBALL:-}" ]]; then
	cp "$PJPROJECT_TARBALL" "$cache/externals/$tarball"
elif [[ -n "${PJPROJECT_SRC:-}" ]]; then
	log "packing pjproject $pjver from $PJPROJECT_SRC"
	git --git-dir="$(git -C "$PJPROJECT_SRC" rev-parse --absolute-git-dir)" archive --format=tar \
		--prefix="pjproject-$pjver/" "$pjver" | bzip2 -1 >"$cache/externals/$tarball"
fi
if [[ -f "$cache/externals/$tarball" ]]; then
	# third-party/pjproject verifies the tarball against this checksum file; ours is packed
	# from the same tag but not byte-identical to the copy Asterisk mirrors, so record its sum
	echo "$(md5sum <"$cache/externals/$tarball" | cut -d' ' -f1)  $tarball" \
		>"$src/third-party/pjproject/$tarball.md5"
fi

# --- configure, cut the module list, build, install -----------------------------------
cd "$src"
log "configure ($(date -u +%T))"
./configure --prefix="$cache" --with-pjproject-bundled --with-externals-cache="$cache/externals" \
	--disable-xmldoc --without-x11 --without-gtk2 >"$cache/configure.log" 2>&1 ||
	{ tail -30 "$cache/configure.log" >&2; exit 1; }

make menuselect.makeopts >"$cache/menuselect.log" 2>&1
categories=(MENUSELECT_ADDONS MENUSELECT_APPS MENUSELECT_BRIDGES MENUSELECT_CDR MENUSELECT_CEL
	MENUSELECT_CHANNELS MENUSELECT_CODECS MENUSELECT_FORMATS MENUSELECT_FUNCS MENUSELECT_PBX
	MENUSELECT_RES MENUSELECT_TESTS MENUSELECT_UTILS MENUSELECT_AGIS
	MENUSELECT_CORE_SOUNDS MENUSELECT_MOH MENUSELECT_EXTRA_SOUNDS)
modules=(chan_pjsip res_pjsip res_pjproject res_pjsip_session res_pjsip_sdp_rtp res_pjsip_pubsub
	res_pjsip_refer res_pjsip_endpoint_identifier_ip res_pjsip_endpoint_identifier_user
	res_pjsip_authenticator_digest res_pjsip_caller_id res_pjsip_nat
	res_sorcery_config res_sorcery_memory res_sorcery_astdb
	res_rtp_asterisk res_parking res_musiconhold res_timing_timerfd
	bridge_holding bridge_simple bridge_native_rtp chan_bridge_media
	app_dial pbx_config codec_ulaw format_pcm func_channel)
args=()
for c in "${categories[@]}"; do args+=(--disable-category "$c"); done
for m in "${modules[@]}"; do args+=(--enable "$m"); done
menuselect/menuselect "${args[@]}" menuselect.makeopts >>"$cache/menuselect.log" 2>&1
menuselect/menuselect --check-deps menuselect.makeopts >>"$cache/menuselect.log" 2>&1 || true

log "make -j$jobs ($(date -u +%T))"
start=$(date +%s)
make -j"$jobs" >"$cache/make.log" 2>&1 || { tail -40 "$cache/make.log" >&2; exit 1; }
make install >"$cache/install.log" 2>&1 || { tail -40 "$cache/install.log" >&2; exit 1; }
log "built in $(($(date +%s) - start)) s"
"$bin" -V >&2
rm -rf "$src" # the installed tree is all bench-anchors needs
touch "$stamp"
echo "$bin"
