#!/bin/sh
# Fashion-MNIST (the CIFAR-10 stand-in) comes from Debian's dataset-fashion-mnist
# package (30.9 MB, MIT, no dependencies). As root it is installed with apt-get;
# otherwise the .deb is downloaded and unpacked under ~/skpoison_data, where
# skpoison.datasets.load_fashion_mnist also looks.
set -e
if dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || {
        apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null
    }
    exit 0
fi
dest="${SKPOISON_DATA:-$HOME/skpoison_data}/fashion-mnist-deb"
if [ -d "$dest/usr/share/datasets/fashion-mnist" ]; then
    exit 0
fi
tmp="$(mktemp -d)"
(cd "$tmp" && apt-get download dataset-fashion-mnist)
mkdir -p "$dest"
dpkg-deb -x "$tmp"/dataset-fashion-mnist_*.deb "$dest"
rm -rf "$tmp"
