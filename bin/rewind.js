#!/usr/bin/env node
// The `rewind` command line. In a checkout it runs the TypeScript sources through tsx;
// where only the build is present (the Docker image), the compiled JavaScript.
import { existsSync } from 'node:fs'

const source = new URL('../src/cli/main.ts', import.meta.url)
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api')
  register()
  await import(source.href)
} else {
  await import(new URL('../dist/src/cli/main.js', import.meta.url).href)
}
