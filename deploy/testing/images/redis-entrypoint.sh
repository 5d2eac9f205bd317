#!/bin/sh
# TESTS ONLY: the entry point of the redis stand-in (deploy/testing/images/standins.Dockerfile),
# doing what the official redis image's docker-entrypoint.sh does: started as root with
# `redis-server ...`, it hands /data (the working directory) to the redis user (uid 999)
# and runs redis-server as that user, with a umask of 0077.
set -e

# `docker run IMAGE --some-option` or `IMAGE something.conf`: options of redis-server.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --clear-groups -- "$0" "$@"
fi

if [ "$(umask)" = '0022' ]; then
	umask 0077
fi

exec "$@"
