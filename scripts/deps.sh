#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests need, when missing:
# tmux (TUI tests), openssh-client (ssh into `tmaps serve`), nginx
# (auth_request against the gate), xvfb + xclip (X clipboard), wrk (load),
# curl (API), chromium (headless browser through nginx and the gate),
# systemd (systemd-analyze checks docs/tmaps.service), etcd-server (Debian's
# etcd 3.4 under `tmaps serve --etcd`; its service is not started: the tests
# run their own members).
# Runs `apt-get update` once, only when something is missing.
# Without root (or without apt-get) it installs nothing and says what is
# missing; the tests that need a missing tool then fail and name it
# (TMAPS_SKIP_E2E=1, TMAPS_SKIP_NGINX=1, TMAPS_SKIP_BROWSER=1 skip them).
set -euo pipefail

# command → Debian package
tools=(
	"tmux:tmux"
	"ssh:openssh-client"
	"ssh-keygen:openssh-client"
	"nginx:nginx"
	"Xvfb:xvfb"
	"xclip:xclip"
	"wrk:wrk"
	"curl:curl"
	"chromium:chromium"
	"systemd-analyze:systemd"
	"etcd:etcd-server"
)

have() {
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing=()
for entry in "${tools[@]}"; do
	cmd=${entry%%:*} pkg=${entry#*:}
	if ! have "$cmd"; then
		case " ${missing[*]-} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: not root (or no apt-get): install them with: sudo apt-get install -y ${missing[*]}" >&2
	echo "deps: the tests that need them will fail (TMAPS_SKIP_E2E/NGINX/BROWSER=1 skips them)" >&2
	exit 0
fi

echo "deps: installing ${missing[*]}" >&2
# Do not let package scripts start daemons (nginx would take port 80).
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	made_policy=1
fi
cleanup() { if [ -n "$made_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}" >&2
