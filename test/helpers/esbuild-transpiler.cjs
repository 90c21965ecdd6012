'use strict'
// A ts-node transpiler (the "transpiler" option of test/tsconfig.tap.json) that strips types
// with esbuild, as tsx does for `npm start`, bin/rewind.js and the service processes the
// slow tests spawn. tap runs the tests through ts-node in transpile-only mode (no type check:
// that is `npm run typecheck`); TypeScript's own transpiler takes seconds per test process to
// emit the sources a test imports, esbuild a fraction of that. Without esbuild, TypeScript's.
// See https://typestrong.org/ts-node/docs/transpilers (the TranspilerModule interface).

const path = require('node:path')

/** esbuild: the project's own (a dependency of tsx), undefined when it cannot be loaded. */
function loadEsbuild () {
  try {
    return require('esbuild')
  } catch {
    try {
      return require(require.resolve('esbuild', { paths: [path.dirname(require.resolve('tsx'))] }))
    } catch {
      return undefined
    }
  }
}

// ts.ScriptTarget → esbuild's target names.
const TARGETS = { 1: 'es5', 2: 'es2015', 3: 'es2016', 4: 'es2017', 5: 'es2018', 6: 'es2019', 7: 'es2020', 8: 'es2021', 9: 'es2022', 10: 'es2023', 11: 'es2024', 99: 'esnext' }
const LOADERS = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx' }
const MODULE_COMMONJS = 1

exports.create = function create ({ service, nodeModuleEmitKind }) {
  const options = service.config.options
  const esbuild = loadEsbuild()
  if (esbuild === undefined) {
    const ts = require(service.projectLocalResolveHelper('typescript', true))
    return {
      transpile (input, { fileName }) {
        const out = ts.transpileModule(input, { fileName, compilerOptions: options, reportDiagnostics: false })
        return { outputText: out.outputText, sourceMapText: out.sourceMapText }
      }
    }
  }
  const target = TARGETS[options.target] ?? 'esnext'
  const format = nodeModuleEmitKind === 'nodecjs' || (nodeModuleEmitKind === undefined && options.module === MODULE_COMMONJS) ? 'cjs' : 'esm'
  // The compiler options esbuild takes from a tsconfig that change what it emits.
  const compilerOptions = {}
  for (const name of ['verbatimModuleSyntax', 'preserveValueImports', 'useDefineForClassFields', 'experimentalDecorators', 'alwaysStrict', 'strict']) {
    if (options[name] !== undefined) compilerOptions[name] = options[name]
  }
  compilerOptions.target = target
  return {
    transpile (input, { fileName }) {
      const result = esbuild.transformSync(input, {
        loader: LOADERS[path.extname(fileName)] ?? 'ts',
        format,
        target,
        sourcemap: 'external',
        sourcefile: fileName,
        tsconfigRaw: { compilerOptions }
      })
      return { outputText: result.code, sourceMapText: result.map }
    }
  }
}
