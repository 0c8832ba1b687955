#!/bin/bash
# Generate the manual pages from the Markdown docs with pandoc (apt-get install pandoc).
# Usage: packaging/man/build.sh OUTDIR   -> OUTDIR/yuqingd.8, yuqingd.yaml.5, yuqingd-rules.5
# -f markdown-smart: pandoc's smart quotes would turn `--config` into an en dash.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
if ! command -v pandoc >/dev/null; then
    . "$repo/packaging/debian/lib.sh"
    need_debs pandoc
fi
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$repo/yuqingd/__init__.py")
date=${SOURCE_DATE_EPOCH:+$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)}
date=${date:-$(git -C "$repo" log -1 --format=%cs 2>/dev/null || date -u +%Y-%m-%d)}
common=(-s -f markdown-smart -t man --wrap=none -M "footer=yuqingd $version" -M "date=$date")

# groff (1.22) breaks lines only at spaces, so Chinese text would overflow or be stretched.
# pandoc writes each non-ASCII character as \[uXXXX]; \: between two CJK ones lets groff break
# there without a hyphen. Left-aligned rather than justified; the warnings about lines in
# tables and examples that cannot be broken are silenced (what is shown is still all there).
# The NAME line is written here, plain, as lexgrog (whatis, apropos) expects it.
finish() { # finish "NAME \- description"
    NAME_LINE=$1 perl -pe 'my $c = qr/\\\[u(?:[4-9][0-9A-F]{3}|30[0-3][0-9A-F]|FF[0-9A-E][0-9A-F])\]/;
        s/(?<=$c)(?=$c)/\\:/g unless /^\.\\"/;
        $_ .= ".ad l\n.warn 0\n.SH NAME\n$ENV{NAME_LINE}\n" if /^\.TH /'
}

pandoc "${common[@]}" -M header=yuqingd "$repo/docs/yuqingd.8.md" |
    finish 'yuqingd \- public-opinion monitoring and escalation daemon' >"$out/yuqingd.8"

# A reference page: the document's own level-1 title is dropped; its sections become the page's.
reference() { # reference SOURCE PAGE SECTION "NAME line"
    { printf '# DESCRIPTION\n\n'; sed '1{/^# /d}' "$1" | sed 's/^##\(#*\) /#\1 /'; } |
        pandoc "${common[@]}" -M "title=$2" -M "section=$3" -M "header=yuqingd" |
        finish "$4" >"$out/${2,,}.$3"
}
reference "$repo/docs/config.md" YUQINGD.YAML 5 \
    'yuqingd.yaml \- configuration file of yuqingd'
reference "$repo/docs/rule-language.md" YUQINGD-RULES 5 \
    'yuqingd-rules \- the rule language of yuqingd rule files'
ls "$out"/yuqingd.8 "$out"/yuqingd.yaml.5 "$out"/yuqingd-rules.5
