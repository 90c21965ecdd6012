'use strict'
// Preloaded (tap's node-arg --require) before ts-node's loader starts: points ts-node at
// test/tsconfig.tap.json, whose "ts-node" section strips types with esbuild (see
// esbuild-transpiler.cjs). tap's own "tsconfig" setting does not reach ts-node here.
process.env.TS_NODE_PROJECT ??= require('node:path').join(__dirname, '..', 'tsconfig.tap.json')
