# TESTS ONLY (test/compose-stack.test.ts): the local stand-in for node:20.x-bookworm-slim,
# the NODE_IMAGE that deploy/Dockerfile builds FROM. No image registry is reachable from
# the test machines, so it is built FROM the Debian base made by debootstrap
# (deploy/testing/images.ts), with Node 20 taken from the machine itself: Debian
# bookworm's own nodejs is 18. The context (made by images.ts) holds
#
#   node            the test machine's Node 20 binary (process.execPath); it links only
#                   glibc, libstdc++ and libgcc_s, which bookworm's minbase has (images.ts
#                   checks `node --version` inside the image)
#   npm/            the npm package installed beside it (<prefix>/lib/node_modules/npm)
#   ca-bundle.crt   the machine's CA bundle. deploy/Dockerfile runs `npm ci` in the build;
#                   npm reaches the registry as the host does, through its TLS-intercepting
#                   egress proxy when it has one. Only npm uses it (cafile in npm's global
#                   config); node itself keeps its built-in CA list, as in the official image.
ARG BASE
FROM ${BASE}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca-bundle.crt /usr/local/share/bpe-test/ca-bundle.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && mkdir -p /usr/local/etc \
 && echo 'cafile=/usr/local/share/bpe-test/ca-bundle.crt' > /usr/local/etc/npmrc \
 && node --version && npm --version
CMD ["node"]
