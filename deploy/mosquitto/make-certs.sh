#!/bin/sh
# Make a CA, the broker's server certificate and client certificates.
#   ./make-certs.sh DIR BROKER_HOST NAME...   (NAME = station id, or "ward")
# Existing files are kept (run again to add stations). Keys are mode 0600:
# copy each station's NAME.crt/NAME.key + ca.crt to that station only.
set -eu
dir=$1; host=$2; shift 2
mkdir -p "$dir"; cd "$dir"
umask 077
if [ ! -f ca.key ]; then
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=CCCD ward CA" -out ca.crt
fi
issue() {  # issue NAME EXTFILE
    [ -f "$1.crt" ] && return 0
    openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
        -days 825 -extfile "$2" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr"
}
case $host in
    *[!0-9.]*) san="DNS:$host,DNS:localhost,IP:127.0.0.1" ;;
    *) san="IP:$host,DNS:localhost,IP:127.0.0.1" ;;
esac
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > server.ext
issue server server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
for name in "$@"; do
    case $name in
        */*|*+*|*'#'*) echo "bad name: $name" >&2; exit 2 ;;
    esac
    issue "$name" client.ext
done
rm -f server.ext client.ext
chmod 0644 ca.crt ./*.crt
echo "certificates in $dir: ca.crt server.crt $*"
