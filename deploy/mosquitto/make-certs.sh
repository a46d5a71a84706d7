#!/bin/sh
# The ward broker's certificates and who may do what on it.
#   ./make-certs.sh DIR BROKER_HOST NAME...   issue (NAME = station id, or "ward")
#   ./make-certs.sh --revoke DIR NAME...      revoke NAME's certificate
# Writes into DIR: a CA (ca.crt/.key), the broker's server certificate (server.crt/.key),
# one client certificate per NAME (NAME.crt/.key, CN = NAME), the certificate revocation
# list crl.pem (the broker's crlfile) and dynamic-security.json (the dynamic security
# plugin's file: each station may publish only its own records, status and heartbeat and
# subscribe only to its own acks and the ward's trust bundle; "ward" reads every station,
# writes acks and publishes the trust bundle: its head cccd/trust/bundle and its parts
# cccd/trust/bundle/<version>/<n>, which it also reads back to repair them).
# Existing files are kept (run again to add stations). Keys are mode 0600: copy each
# station's NAME.crt/NAME.key + ca.crt to that station only. A revoked certificate moves
# to DIR/revoked/, its key is deleted; the name can be issued again.
# Then restart mosquitto (systemctl restart mosquitto): it reads both files at start,
# and a restart also drops a revoked station that is still connected.
set -eu
revoke=
if [ "${1:-}" = --revoke ]; then revoke=1; shift; fi
[ $# -ge 2 ] || { echo "usage: $0 DIR BROKER_HOST NAME... | $0 --revoke DIR NAME..." >&2; exit 2; }
dir=$1; shift
if [ -z "$revoke" ]; then host=$1; shift; fi
for name in "$@"; do  # a station id: 1-64 letters, digits, '.', '_' or '-'
    case $name in
        ca|server|''|[!A-Za-z0-9]*|*[!A-Za-z0-9._-]*) echo "bad name: $name" >&2; exit 2 ;;
    esac
    [ ${#name} -le 64 ] || { echo "bad name (over 64 characters): $name" >&2; exit 2; }
done
mkdir -p "$dir"; cd "$dir"
umask 077
if [ ! -f ca.key ]; then
    [ -z "$revoke" ] || { echo "no CA in $dir" >&2; exit 2; }
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=CCCD ward CA" -out ca.crt
fi
# openssl ca keeps the revoked serials in index.txt; the CRL is valid as long as the CA.
[ -f index.txt ] || : > index.txt
[ -f crlnumber ] || echo 1000 > crlnumber
printf '[ca]\ndefault_ca = ward\n[ward]\ndatabase = index.txt\ncrlnumber = crlnumber\n%s\n' \
    'default_md = sha256
default_crl_days = 3650' > ca.cnf

issue() {  # issue NAME EXTFILE
    [ -f "$1.crt" ] && return 0
    openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
        -days 825 -extfile "$2" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr"
}

revoke_cert() {  # revoke_cert NAME
    [ -f "$1.crt" ] || { echo "no certificate $dir/$1.crt to revoke" >&2; exit 2; }
    openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -revoke "$1.crt" 2>/dev/null
    serial=$(openssl x509 -in "$1.crt" -noout -serial | cut -d= -f2)
    mkdir -p revoked
    mv "$1.crt" "revoked/$1-$serial.crt"
    rm -f "$1.key"
}

acl() {  # acl TYPE TOPIC: one allowed entry of a role
    printf '        {"acltype": "%s", "topic": "%s", "allow": true}' "$1" "$2"
}

role() {  # role NAME: what the station NAME, or the ward, may do
    printf '    {"rolename": "%s", "acls": [\n' "$1"
    if [ "$1" = ward ]; then
        acl subscribePattern '$share/+/cccd/+/records'; echo ,
        acl subscribePattern cccd/+/status; echo ,
        acl subscribePattern cccd/+/heartbeat; echo ,
        acl publishClientReceive 'cccd/#'; echo ,
        acl publishClientSend cccd/+/ack; echo ,
        acl subscribePattern 'cccd/trust/bundle/#'; echo ,
        acl publishClientSend cccd/trust/bundle; echo ,
        acl publishClientSend 'cccd/trust/bundle/#'; echo
    else
        for kind in records status heartbeat; do acl publishClientSend "cccd/$1/$kind"; echo ,; done
        acl subscribeLiteral "cccd/$1/ack"; echo ,
        acl publishClientReceive "cccd/$1/ack"; echo ,
        acl subscribeLiteral cccd/trust/bundle; echo ,
        acl publishClientReceive cccd/trust/bundle; echo ,
        acl subscribePattern 'cccd/trust/bundle/+/+'; echo ,
        acl publishClientReceive 'cccd/trust/bundle/+/+'; echo
    fi
    printf '    ]}'
}

dynsec() {  # the plugin's file, from the client certificates in DIR (revoked ones moved)
    clients=; roles=; sep=
    for crt in *.crt; do
        name=${crt%.crt}
        case $name in ca|server|'*') continue ;; esac
        clients="$clients$sep    {\"username\": \"$name\", \"roles\": [{\"rolename\": \"$name\"}]}"
        roles="$roles$sep$(role "$name")"
        sep=$(printf ',\n_'); sep=${sep%_}
    done
    cat > dynamic-security.json.new <<EOF
{
  "defaultACLAccess": {"publishClientSend": false, "publishClientReceive": false,
                       "subscribe": false, "unsubscribe": true},
  "clients": [
$clients
  ],
  "groups": [],
  "roles": [
$roles
  ]
}
EOF
    mv dynamic-security.json.new dynamic-security.json
}

if [ -n "$revoke" ]; then
    for name in "$@"; do revoke_cert "$name"; done
else
    case $host in
        *[!0-9.]*) san="DNS:$host,DNS:localhost,IP:127.0.0.1" ;;
        *) san="IP:$host,DNS:localhost,IP:127.0.0.1" ;;
    esac
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > server.ext
    issue server server.ext
    printf 'extendedKeyUsage=clientAuth\n' > client.ext
    for name in "$@"; do issue "$name" client.ext; done
    rm -f server.ext client.ext
fi
openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -gencrl -out crl.pem 2>/dev/null
rm -f ca.cnf
dynsec
chmod 0644 ca.crt crl.pem ./*.crt
# mosquitto drops root before it reads these: its group may read them, nobody else.
if getent group mosquitto >/dev/null 2>&1; then
    chgrp mosquitto server.key dynamic-security.json
    chmod 0640 server.key dynamic-security.json
fi
if [ -n "$revoke" ]; then
    echo "revoked in $dir: $* (crl.pem, dynamic-security.json); now: systemctl restart mosquitto"
else
    echo "certificates in $dir: ca.crt server.crt $*; crl.pem, dynamic-security.json"
fi
