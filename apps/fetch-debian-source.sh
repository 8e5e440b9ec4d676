#!/usr/bin/env bash
# Fetch and unpack one Debian source package at build time (PLATFORM.md "Building applications").
#
#   fetch-debian-source.sh PACKAGE[=VERSION] CACHE_DIR DEST_DIR
#
# CACHE_DIR keeps the downloaded .dsc and tarballs: when it already holds PACKAGE_*.dsc (the newest by version
# is used), nothing is downloaded, so a rebuild or a fresh build directory pointed at the same cache never
# touches the network. Otherwise the script asks the archive the host's apt already uses for its binary
# packages, through a private deb-src list, lists directory and cache inside CACHE_DIR: the system's apt state
# is never read for sources nor written. apt verifies the .dsc against the signed Sources index, and
# dpkg-source verifies the tarballs against the .dsc.
#
# DEST_DIR is replaced by the unpacked tree with the Debian patches applied, and DEST_DIR/.kernite-source
# names the version. To build offline, put the three files of a source package (.dsc, .orig.tar.*,
# .debian.tar.*) into CACHE_DIR.
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 PACKAGE[=VERSION] CACHE_DIR DEST_DIR" >&2
    exit 2
fi
request=$1
package=${request%%=*}
cache=$2
dest=$3

fail()
{
    echo "fetch-debian-source: error: $*" >&2
    exit 1
}

for tool in apt-get dpkg-source flock; do
    command -v "$tool" >/dev/null || fail "$tool is missing (run scripts/install-deps.sh: dpkg-dev, apt, util-linux)"
done

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# The newest cached .dsc of the package (or of the exact version asked for), or nothing.
cached_dsc()
{
    local pattern="${package}_*.dsc"
    if [[ $request == *=* ]]; then
        local version=${request#*=}
        pattern="${package}_${version#*:}.dsc" # file names carry no epoch
    fi
    find "$cache" -maxdepth 1 -name "$pattern" -printf '%f\n' | sort -V | tail -n 1
}

# Ninja may run the fetches of two packages at once: they share the apt lists, so one at a time.
exec 9>"$cache/.lock"
flock 9

dsc=$(cached_dsc)
if [[ -z $dsc ]]; then
    apt_dir=$cache/apt
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    # deb-src twins of the host's deb entries, in either of the two formats Debian 12 may use.
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        sed -e 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$apt_dir/sources.sources"
        source_list=$apt_dir/sources.sources
    elif [[ -f /etc/apt/sources.list ]]; then
        sed -n -e 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list >"$apt_dir/sources.list"
        source_list=$apt_dir/sources.list
    else
        fail "found neither /etc/apt/sources.list.d/debian.sources nor /etc/apt/sources.list to learn the archive from"
    fi
    apt_options=(
        -o "Dir::Etc::SourceList=$source_list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
        # Downloads run as the calling user: the private directories need not be readable by _apt.
        -o "APT::Sandbox::User=$(id -un)"
        -o Acquire::Retries=1 -o Acquire::http::Timeout=30
    )
    archive=$(grep -h -m 1 -E '^(URIs:|deb-src)' "$source_list" | awk '{ print $2 }')
    unreachable()
    {
        fail "cannot download the Debian source package '$request' from $archive: $1." \
            "Is the archive reachable? To build offline, copy ${package}_*.dsc, ${package}_*.orig.tar.* and" \
            "${package}_*.debian.tar.* into $cache (apt-get source --download-only $package elsewhere)."
    }
    echo "fetch-debian-source: downloading the source of $request from $archive"
    if ! apt-get "${apt_options[@]}" -qq update --error-on=any >"$apt_dir/update.log" 2>&1; then
        cat "$apt_dir/update.log" >&2
        unreachable "apt-get update failed (log above)"
    fi
    if ! (cd "$cache" && apt-get "${apt_options[@]}" -qq source --download-only "$request") \
        >"$apt_dir/source.log" 2>&1; then
        cat "$apt_dir/source.log" >&2
        unreachable "apt-get source failed (log above)"
    fi
    dsc=$(cached_dsc)
    [[ -n $dsc ]] || fail "apt-get source succeeded but left no ${package}_*.dsc in $cache"
fi

# Unpack beside DEST_DIR, then move into place: an interrupted build never leaves a half-unpacked tree.
parent=$(dirname "$dest")
mkdir -p "$parent"
work=$(mktemp -d "$parent/.unpack-$package.XXXXXX")
trap 'rm -rf "$work"' EXIT
if ! dpkg-source --no-copy -x "$cache/$dsc" "$work/tree" >"$work/unpack.log" 2>&1; then
    cat "$work/unpack.log" >&2
    fail "dpkg-source could not unpack $cache/$dsc (a damaged download? delete it to fetch again)"
fi
version=${dsc#"${package}"_}
echo "${package} ${version%.dsc}" >"$work/tree/.kernite-source"
rm -rf "$dest"
mv "$work/tree" "$dest"
echo "fetch-debian-source: $package ${version%.dsc} unpacked into $dest"
