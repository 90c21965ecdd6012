// Static checks of the Docker files (no Docker engine is needed): the Dockerfile, the
// .dockerignore and docker-compose.yml must stay in step with package.json, tsconfig.json
// and the repository layout, and the compose file must stay hardened (no password in it,
// ports on 127.0.0.1, read-only root file system, no capabilities). The compose file is
// read with a small YAML-subset reader (no dependency); it refuses constructs it does not
// understand instead of guessing.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import t from 'tap'

const root = fileURLToPath(new URL('..', import.meta.url))
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8')

// ---------------------------------------------------------------- Dockerfile

interface Instruction { line: number, keyword: string, flags: Record<string, string>, args: string }
interface Stage { image: string, name: string | undefined, instructions: Instruction[] }

/** Splits a Dockerfile into stages of instructions (continuations joined, comments dropped). */
function parseDockerfile (text: string): Stage[] {
  const stages: Stage[] = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1
    let current = lines[i]!.trim()
    if (current === '' || current.startsWith('#')) continue
    while (current.endsWith('\\')) {
      current = current.slice(0, -1)
      i++
      while (i < lines.length && lines[i]!.trim().startsWith('#')) i++ // comments inside a continuation
      if (i >= lines.length) break
      current += ' ' + lines[i]!.trim()
    }
    const match = /^(\S+)\s*(.*)$/s.exec(current)!
    const keyword = match[1]!.toUpperCase()
    let rest = match[2]!.trim()
    const flags: Record<string, string> = {}
    let flag: RegExpExecArray | null
    while ((flag = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest)) !== null) {
      flags[flag[1]!] = flag[2] ?? ''
      rest = rest.slice(flag[0].length)
    }
    const instruction = { line: start, keyword, flags, args: rest }
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+as\s+(\S+))?$/i.exec(rest)
      if (from === null) throw new Error(`line ${start}: cannot read FROM ${rest}`)
      stages.push({ image: from[1]!, name: from[2], instructions: [instruction] })
    } else {
      if (stages.length === 0) {
        if (keyword === 'ARG') continue
        throw new Error(`line ${start}: ${keyword} before the first FROM`)
      }
      stages.at(-1)!.instructions.push(instruction)
    }
  }
  return stages
}

/** Exec form (JSON array) or shell form split on whitespace. */
function words (args: string): string[] {
  if (args.startsWith('[')) return JSON.parse(args) as string[]
  return args.split(/\s+/).filter((w) => w !== '')
}

/** ENV / LABEL key=value pairs (double quotes allowed), or the legacy "ENV key value" form. */
function keyValues (args: string): Record<string, string> {
  const out: Record<string, string> = {}
  if (!/^[\w.-]+=/.test(args)) {
    const legacy = /^(\S+)\s+(.*)$/.exec(args)
    if (legacy !== null) out[legacy[1]!] = legacy[2]!
    return out
  }
  for (const m of args.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    out[m[1]!] = m[2]!.startsWith('"') ? JSON.parse(m[2]!) as string : m[2]!
  }
  return out
}

const all = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.keyword === keyword)
const last = (stage: Stage, keyword: string): Instruction | undefined => all(stage, keyword).at(-1)

/** Minimal .dockerignore matching: `*`, `**`, `?`, directory prefixes; `!` re-includes. */
function dockerignored (patterns: string[], file: string): boolean {
  let ignored = false
  for (const raw of patterns) {
    const negate = raw.startsWith('!')
    const pattern = path.posix.normalize((negate ? raw.slice(1) : raw).replace(/^\/+/, '')).replace(/\/+$/, '')
    const regex = new RegExp('^' + pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*\/?/g, '\u0000')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]')
      .replace(/\u0000/g, '.*') + '(/.*)?$')
    if (regex.test(file)) ignored = !negate
  }
  return ignored
}

const dockerfile = parseDockerfile(read('Dockerfile'))
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>, overrides?: unknown, engines?: { node?: string } }
const tsconfig = JSON.parse(read('tsconfig.json')) as { compilerOptions: { outDir?: string, rootDir?: string } }
const ignorePatterns = read('.dockerignore').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
const runtime = dockerfile.at(-1)!
const stageNames = new Set(dockerfile.map((s) => s.name?.toLowerCase()).filter((n) => n !== undefined))

// The image is the current Node.js LTS; the code supports every Node.js from package.json's
// "engines" minimum on (CI and development machines run that minimum).
const NODE_IMAGE = 'node:26-slim'

/** Parses a Docker duration such as 20s, 1m30s or 500ms into milliseconds (undefined if invalid). */
function durationMs (text: string | undefined): number | undefined {
  if (text === undefined || !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  let ms = 0
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * unit[m[2]!]!
  return ms
}

t.test('Dockerfile: multi-stage build on the current Node.js LTS image', async (t) => {
  t.ok(dockerfile.length >= 2, 'at least a build and a runtime stage')
  for (const stage of dockerfile) t.equal(stage.image, NODE_IMAGE, `stage ${stage.name ?? '(unnamed)'} is based on ${NODE_IMAGE}`)
  const minimum = /^>=\s*(\d+)(\.\d+)*$/.exec(pkg.engines?.node ?? '')
  t.ok(minimum !== null, `package.json engines.node is a ">=N" range (${pkg.engines?.node})`)
  const imageMajor = Number(/^node:(\d+)/.exec(NODE_IMAGE)?.[1])
  t.ok(minimum !== null && imageMajor >= Number(minimum[1]), `${NODE_IMAGE} satisfies engines.node ${pkg.engines?.node}`)
  const build = dockerfile[0]!
  const runs = all(build, 'RUN').map((r) => r.args)
  t.ok(runs.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r)), 'the build stage installs all dependencies with npm ci')
  t.ok(runs.some((r) => /\bnpm run build\b/.test(r)), 'the build stage runs npm run build')
  for (const copy of all(runtime, 'COPY').filter((c) => c.flags.from !== undefined)) {
    t.ok(stageNames.has(copy.flags.from!.toLowerCase()), `COPY --from=${copy.flags.from} (line ${copy.line}) names a stage`)
  }
})

t.test('Dockerfile: runtime stage installs production dependencies honouring package.json overrides', async (t) => {
  const runIndex = runtime.instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(i.args))
  t.ok(runIndex > 0, 'the runtime stage runs npm ci --omit=dev')
  // npm ci installs exactly the lockfile, which must agree with package.json (including its
  // "overrides"): both have to be in the image before that install.
  const copiedBefore = runtime.instructions.slice(0, runIndex)
    .filter((i) => i.keyword === 'COPY' && i.flags.from === undefined)
    .flatMap((i) => words(i.args).slice(0, -1))
  t.ok(copiedBefore.includes('package.json'), 'package.json is copied before npm ci')
  t.ok(copiedBefore.includes('package-lock.json'), 'package-lock.json is copied before npm ci')
  t.ok(pkg.overrides !== undefined, 'package.json has the overrides npm ci must honour')
  t.notOk(runtime.instructions.some((i) => i.keyword === 'RUN' && /\bnpm (i|install)\b/.test(i.args)), 'no npm install (which could rewrite the lockfile)')
})

t.test('Dockerfile: non-root user, environment, volume and port', async (t) => {
  const user = last(runtime, 'USER')
  t.ok(user !== undefined, 'the runtime stage sets a USER')
  t.notOk(['root', '0', '0:0', 'root:root'].includes(user?.args ?? 'root'), `USER ${user?.args} is not root`)
  const env = Object.assign({}, ...all(runtime, 'ENV').map((e) => keyValues(e.args))) as Record<string, string>
  t.equal(env.NODE_ENV, 'production')
  t.equal(env.HOST, '0.0.0.0')
  t.equal(env.DATA_DIR, '/data')
  t.equal(env.PORT, '3000')
  t.ok(all(runtime, 'EXPOSE').some((e) => words(e.args).some((p) => p.replace(/\/tcp$/, '') === env.PORT)), 'EXPOSE matches ENV PORT')
  t.ok(all(runtime, 'VOLUME').some((v) => words(v.args).includes(env.DATA_DIR!)), 'DATA_DIR is a volume')
  t.ok(all(runtime, 'RUN').some((r) => new RegExp(`chown\\s+(-R\\s+)?${user?.args.split(':')[0]}\\S*\\s+${env.DATA_DIR}\\b`).test(r.args)), 'DATA_DIR is owned by the USER')
})

t.test('Dockerfile: HEALTHCHECK probes /health with node', async (t) => {
  const healthcheck = last(runtime, 'HEALTHCHECK')
  t.ok(healthcheck !== undefined, 'the runtime stage has a HEALTHCHECK')
  const command = /^CMD\s+(.*)$/s.exec(healthcheck?.args ?? '')
  t.ok(command !== null, 'HEALTHCHECK ... CMD')
  const argv = words(command?.[1] ?? '')
  t.equal(argv[0], 'node', `the probe runs node (${NODE_IMAGE} has no curl or wget)`)
  t.match(argv.join(' '), /\/health\b/, 'the probe requests /health')
  t.match(argv.join(' '), /process\.env\.PORT|:3000\b/, 'the probe uses the service port')
  // Start-up applies the migrations before the server listens: failed probes during the
  // start period must not count against the container.
  const startPeriod = durationMs(healthcheck?.flags['start-period'])
  t.ok(startPeriod !== undefined && startPeriod > 0, `HEALTHCHECK has a --start-period (${healthcheck?.flags['start-period']})`)
  for (const flag of ['interval', 'timeout', 'start-period']) {
    const value = healthcheck?.flags[flag]
    if (value !== undefined) t.ok(durationMs(value) !== undefined, `--${flag}=${value} is a valid duration`)
  }
})

t.test('npm start gives node the options npm run start:prod gives it (the service runs alike either way)', async (t) => {
  const options = (script: string): string[] => words(script).slice(1).filter((w) => w.startsWith('--') && w !== '--import')
  t.strictSame(options(pkg.scripts.start!), options(pkg.scripts['start:prod']!))
  t.strictSame(options(pkg.scripts['start:prod']!), ['--max-semi-space-size=64'])
})

t.test('Dockerfile: CMD runs what npm run start:prod runs', async (t) => {
  const cmd = last(runtime, 'CMD')
  t.ok(cmd?.args.startsWith('['), 'CMD is in exec form (node gets the signals for graceful shutdown)')
  const argv = words(cmd?.args ?? '[]')
  t.strictSame(argv, words(pkg.scripts['start:prod']!), 'CMD equals the start:prod script')
  // The script is a tsc output: dist/<path> comes from <rootDir>/<path>.ts in the sources.
  const outDir = path.posix.normalize(tsconfig.compilerOptions.outDir ?? '.')
  const script = argv.find((a) => a.endsWith('.js'))
  t.ok(script?.startsWith(outDir + '/'), `the script ${script} is in the tsc outDir ${outDir}`)
  const source = path.posix.join(tsconfig.compilerOptions.rootDir ?? '.', path.posix.relative(outDir, script ?? '')).replace(/\.js$/, '.ts')
  t.ok(existsSync(path.join(root, source)), `its source ${source} exists`)
  // The runtime copies the build output directory from the build stage.
  const workdir = last(dockerfile[0]!, 'WORKDIR')?.args ?? '/'
  t.ok(all(runtime, 'COPY').some((c) => c.flags.from !== undefined && words(c.args).slice(0, -1)
    .some((src) => path.posix.normalize(path.posix.resolve(workdir, src)) === path.posix.join(workdir, outDir))), `the runtime copies ${outDir}/ from the build stage`)
})

t.test('Dockerfile: every COPY source from the build context exists and is not .dockerignored', async (t) => {
  const sources = dockerfile.flatMap((s) => all(s, 'COPY').concat(all(s, 'ADD')))
    .filter((c) => c.flags.from === undefined)
    .flatMap((c) => words(c.args).slice(0, -1).map((src) => ({ src, line: c.line })))
  t.ok(sources.length > 0)
  for (const { src, line } of sources) {
    const rel = path.posix.normalize(src).replace(/\/$/, '')
    t.ok(existsSync(path.join(root, rel)), `line ${line}: ${src} exists in the repository`)
    t.notOk(dockerignored(ignorePatterns, rel), `line ${line}: ${src} is not excluded by .dockerignore`)
  }
  const copied = new Set(sources.map((s) => path.posix.normalize(s.src).replace(/\/$/, '')))
  // migrate.ts finds the compiled migrations at <outDir>/migrations: they must be built too.
  for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'migrations']) {
    t.ok(copied.has(needed), `${needed} is copied into the build`)
  }
})

t.test('.dockerignore keeps local state out of the build context', async (t) => {
  for (const file of ['node_modules', 'dist', 'data', '.git', '.tap']) {
    t.ok(dockerignored(ignorePatterns, file), `${file} is ignored`)
  }
})

// ---------------------------------------------------------------- docker-compose.yml

type Yaml = string | null | Yaml[] | { [key: string]: Yaml }
interface YamlLine { no: number, indent: number, text: string }

/** Block mappings and sequences of plain/quoted scalars and JSON-like flow sequences. */
function parseYaml (source: string): Yaml {
  const lines: YamlLine[] = []
  source.split(/\r?\n/).forEach((raw, index) => {
    if (/^\s*\t/.test(raw)) throw new Error(`line ${index + 1}: tab indentation`)
    const text = stripComment(raw).trimEnd()
    if (text.trim() === '') return
    if (/^(---|\.\.\.)$/.test(text.trim())) throw new Error(`line ${index + 1}: multiple documents are not supported`)
    lines.push({ no: index + 1, indent: text.length - text.trimStart().length, text: text.trim() })
  })
  let i = 0
  const isItem = (l: YamlLine): boolean => l.text === '-' || l.text.startsWith('- ')

  function block (indent: number): Yaml {
    if (isItem(lines[i]!)) {
      const seq: Yaml[] = []
      while (i < lines.length && lines[i]!.indent === indent && isItem(lines[i]!)) {
        const line = lines[i]!
        const rest = line.text.slice(1).trim()
        if (rest === '') {
          i++
          seq.push(i < lines.length && lines[i]!.indent > indent ? block(lines[i]!.indent) : null)
        } else if (/^[^"'[{][^:]*:(\s|$)/.test(rest) || /^"[^"]*":(\s|$)/.test(rest)) {
          // "- key: value": a mapping whose first line follows the dash
          lines[i] = { no: line.no, indent: indent + 2, text: rest }
          seq.push(block(indent + 2))
        } else {
          seq.push(scalar(rest, line.no))
          i++
        }
      }
      return seq
    }
    const map: Record<string, Yaml> = {}
    while (i < lines.length && lines[i]!.indent === indent && !isItem(lines[i]!)) {
      const line = lines[i]!
      const m = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^:]+?)\s*:(?:\s+(.*))?$/.exec(line.text)
      if (m === null) throw new Error(`line ${line.no}: cannot read "${line.text}"`)
      const key = scalar(m[1]!, line.no) as string
      if (key in map) throw new Error(`line ${line.no}: duplicate key ${key}`)
      i++
      if (m[2] !== undefined) {
        map[key] = scalar(m[2], line.no)
      } else if (i < lines.length && (lines[i]!.indent > indent || (lines[i]!.indent === indent && isItem(lines[i]!)))) {
        map[key] = block(lines[i]!.indent)
      } else {
        map[key] = null
      }
    }
    if (i < lines.length && lines[i]!.indent > indent) throw new Error(`line ${lines[i]!.no}: unexpected indentation`)
    return map
  }

  const result = lines.length === 0 ? null : block(lines[0]!.indent)
  if (i < lines.length) throw new Error(`line ${lines[i]!.no}: unexpected content`)
  return result
}

function stripComment (line: string): string {
  let quote: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++
      else if (c === quote) quote = undefined
    } else if (c === '"' || c === "'") {
      quote = c
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i)
    }
  }
  return line
}

function scalar (text: string, no: number): Yaml {
  const s = text.trim()
  if (/^[&*!|>]/.test(s)) throw new Error(`line ${no}: anchors, aliases, tags and block scalars are not supported`)
  if (s.startsWith('"')) return JSON.parse(s) as string
  if (s.startsWith("'")) return s.slice(1, -1).replace(/''/g, "'")
  if (s === '{}') return {}
  if (s === '[]') return []
  if (s.startsWith('[')) {
    try {
      return (JSON.parse(s) as unknown[]).map(String)
    } catch {
      return s.slice(1, -1).split(',').map((x) => scalar(x, no))
    }
  }
  if (s.startsWith('{')) throw new Error(`line ${no}: flow mappings are not supported`)
  return s === '~' || s === 'null' ? null : s
}

const asMap = (value: Yaml | undefined): Record<string, Yaml> =>
  value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value) ? value : {}

/** `environment:` as a mapping or as a list of KEY=value. */
function environment (service: Record<string, Yaml>): Record<string, string> {
  const env = service.environment
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => String(e)).map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]))
  }
  return Object.fromEntries(Object.entries(asMap(env)).map(([k, v]) => [k, v === null ? '' : String(v)]))
}

/** Container ports a service publishes, as host address, published and target port. */
function publishedPorts (service: Record<string, Yaml>): Array<{ host: string, published: string, target: string }> {
  const ports = Array.isArray(service.ports) ? service.ports : []
  return ports.map((p) => {
    if (typeof p === 'string') {
      // [host:][published:]target[/protocol], the host possibly an [IPv6] address
      const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(p)
      const parts = (bracketed?.[2] ?? p).replace(/\/(tcp|udp)$/, '').split(':')
      const host = bracketed?.[1] ?? (parts.length > 2 ? parts[0]! : '')
      return { host, published: parts.length > 1 ? parts.at(-2)! : '', target: parts.at(-1)! }
    }
    const long = asMap(p)
    return { host: String(long.host_ip ?? ''), published: String(long.published ?? ''), target: String(long.target ?? '') }
  })
}

/** A list-valued option (`cap_drop: [ALL]`, or a block sequence) as strings. */
const list = (value: Yaml | undefined): string[] => Array.isArray(value) ? value.map(String) : value === undefined || value === null ? [] : [String(value)]

/** The names of the variables a compose value interpolates (`${NAME}`, `${NAME:-default}`, `${NAME:?error}`…). */
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g
const references = (value: string): string[] => [...value.matchAll(REFERENCE)].map((m) => m[1]!)

/** What Compose makes of a value with these variables (`$$` is a literal `$`); throws where Compose would refuse. */
function interpolate (value: string, vars: Record<string, string>): string {
  return value.split('$$').map((piece) => piece.replace(REFERENCE, (_all, name: string, op: string | undefined, arg: string | undefined) => {
    const v = vars[name]
    const missing = op?.startsWith(':') === true ? v === undefined || v === '' : v === undefined
    if (missing && op?.endsWith('?') === true) throw new Error(`${name}: ${arg ?? 'required'}`)
    if (missing && op?.endsWith('-') === true) return arg ?? ''
    return v ?? ''
  })).join('$')
}

/** KEY=value lines of an env file (comments and blank lines left out). */
function envFile (text: string): Record<string, string> {
  return Object.fromEntries(text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]))
}

/** Settings that are secrets, whatever the service: their values must come from outside the file. */
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|(^|_)KEY$/i

const compose = asMap(parseYaml(read('docker-compose.yml')))
const services = asMap(compose.services)

t.test('docker-compose.yml: the YAML reader understands the file', async (t) => {
  t.strictSame(parseYaml('a:\n  b: "x # y" # c\n  c:\n  - 1\n  - k: v\n    l: w\nd: [\"e\", \"f\"]\n'),
    { a: { b: 'x # y', c: ['1', { k: 'v', l: 'w' }] }, d: ['e', 'f'] })
  t.throws(() => parseYaml('a: &x 1\nb: *x\n'), 'refuses what it cannot read')
  t.ok('rewind' in services && 'postgres' in services, 'services rewind and postgres')
})

t.test('docker-compose.yml: postgres service', async (t) => {
  const postgres = asMap(services.postgres)
  t.match(String(postgres.image), /^postgres:15(\b|$)/, 'postgres:15 image')
  const env = environment(postgres)
  for (const key of ['POSTGRES_USER', 'POSTGRES_DB']) t.ok(env[key], `${key} is set`)
  t.ok(env.POSTGRES_PASSWORD !== undefined || env.POSTGRES_PASSWORD_FILE !== undefined, 'POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) is set')
  const volumes = (Array.isArray(postgres.volumes) ? postgres.volumes : []).map(String)
  const named = volumes.map((v) => v.split(':')[0]!).filter((v) => /^[\w-]+$/.test(v))
  t.ok(volumes.some((v) => v.split(':')[1] === '/var/lib/postgresql/data'), 'the data directory is on a volume')
  t.ok(named.length > 0 && named.every((v) => v in asMap(compose.volumes)), 'named volumes are declared at the top level')
  const test = asMap(postgres.healthcheck).test
  t.match(Array.isArray(test) ? test.join(' ') : String(test), /pg_isready/, 'the healthcheck runs pg_isready')
})

t.test('docker-compose.yml: rewind service', async (t) => {
  const rewind = asMap(services.rewind)
  const build = rewind.build
  t.equal(typeof build === 'string' ? build : asMap(build).context, '.', 'built from this repository')
  // As Compose runs it with a password from .env
  const vars = { POSTGRES_PASSWORD: 'Test0nly' }
  const env = Object.fromEntries(Object.entries(environment(rewind)).map(([k, v]) => [k, interpolate(v, vars)]))
  const pgEnv = Object.fromEntries(Object.entries(environment(asMap(services.postgres))).map(([k, v]) => [k, interpolate(v, vars)]))
  const url = new URL(env.DATABASE_URL ?? 'invalid:')
  t.match(url.protocol, /^postgres(ql)?:$/, 'DATABASE_URL is a postgres:// URL (what config.ts accepts)')
  t.equal(url.hostname, 'postgres', 'DATABASE_URL points at the postgres service')
  t.ok(url.port === '' || url.port === '5432', 'on the PostgreSQL port')
  t.equal(decodeURIComponent(url.username), pgEnv.POSTGRES_USER, 'with the POSTGRES_USER')
  t.equal(decodeURIComponent(url.password), pgEnv.POSTGRES_PASSWORD, 'with the POSTGRES_PASSWORD')
  t.equal(url.pathname.slice(1), pgEnv.POSTGRES_DB, 'on the POSTGRES_DB database')
  t.equal(asMap(asMap(rewind.depends_on).postgres).condition, 'service_healthy', 'depends_on postgres: service_healthy')
  t.ok(publishedPorts(rewind).some((p) => p.target === '3000' && p.published === '3000'), 'publishes 3000:3000')
  t.equal(rewind.restart, 'unless-stopped')
})

t.test('docker-compose.yml: no password or other secret is written in the file', async (t) => {
  const text = read('docker-compose.yml')
  t.notMatch(text, /postgres(ql)?:\/\/[^:@\s/]+:(?!\$\{)[^@\s]+@/, 'no URL carries a literal password')
  t.notMatch(text, /POSTGRES_HOST_AUTH_METHOD/, 'PostgreSQL keeps password authentication')
  const referenced = new Set<string>()
  for (const [name, service] of Object.entries(services)) {
    for (const [key, value] of Object.entries(environment(asMap(service)))) {
      references(value).forEach((v) => referenced.add(v))
      if (SECRET_NAME.test(key) && !key.endsWith('_FILE')) {
        t.match(value, /^\$\{[A-Za-z_][A-Za-z0-9_]*(:\?[^}]*)?\}$/, `${name}: ${key} is only a required \${VARIABLE} (from .env or the environment)`)
      }
      if (key === 'DATABASE_URL') {
        const userinfo = /^postgres(?:ql)?:\/\/([^@]*)@/.exec(value)?.[1] ?? ''
        const password = userinfo.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1) : ''
        t.match(password, /^\$\{[A-Za-z_][A-Za-z0-9_]*(:\?[^}]*)?\}$/, `${name}: the password in DATABASE_URL is only a required \${VARIABLE}`)
      }
    }
  }
  t.ok(referenced.has('POSTGRES_PASSWORD'), 'the password comes from the variable POSTGRES_PASSWORD')
  // The committed example lists every variable and gives no password (so none is shared by every copy).
  t.ok(existsSync(path.join(root, '.env.example')), '.env.example exists')
  const example = existsSync(path.join(root, '.env.example')) ? envFile(read('.env.example')) : {}
  for (const v of referenced) t.ok(v in example, `.env.example lists ${v}`)
  for (const [key, value] of Object.entries(example)) {
    if (SECRET_NAME.test(key)) t.equal(value, '', `.env.example leaves ${key} empty`)
  }
  t.throws(() => interpolate(environment(asMap(services.postgres)).POSTGRES_PASSWORD ?? '', example), 'Compose refuses to start with the example unchanged')
  const gitignore = read('.gitignore').split(/\r?\n/).map((l) => l.trim())
  t.ok(gitignore.includes('.env') || gitignore.includes('/.env'), '.env is git-ignored')
  t.ok(dockerignored(ignorePatterns, '.env'), '.env stays out of the build context')
})

t.test('docker-compose.yml: published ports are bound to 127.0.0.1', async (t) => {
  for (const [name, service] of Object.entries(services)) {
    for (const port of publishedPorts(asMap(service))) {
      t.ok(['127.0.0.1', '::1'].includes(port.host), `${name}: ${port.published}:${port.target} is published on loopback only (${port.host === '' ? 'every address' : port.host})`)
    }
  }
  t.strictSame(publishedPorts(asMap(services.postgres)), [], 'postgres publishes no port')
})

t.test('docker-compose.yml: containers are hardened', async (t) => {
  const rewind = asMap(services.rewind)
  t.equal(rewind.read_only, 'true', 'rewind: read_only: true')
  t.ok(list(rewind.tmpfs).some((m) => m.split(':')[0] === '/tmp'), 'rewind: /tmp is a tmpfs')
  const dataVolume = list(rewind.volumes).find((v) => v.split(':')[1] === '/data')
  t.ok(dataVolume !== undefined && dataVolume.split(':')[0]! in asMap(compose.volumes), 'rewind: /data (where the first admin key is written) is a named volume')
  t.strictSame(list(rewind.cap_drop), ['ALL'], 'rewind: cap_drop: [ALL]')
  t.strictSame(list(rewind.cap_add), [], 'rewind: no capability added back')
  const postgres = asMap(services.postgres)
  t.strictSame(list(postgres.cap_drop), ['ALL'], 'postgres: cap_drop: [ALL]')
  // What the postgres image's entrypoint needs to prepare its directories and switch user.
  const needed = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID']
  t.strictSame([...list(postgres.cap_add)].sort(), needed, `postgres: adds back only ${needed.join(', ')}`)
  for (const [name, service] of Object.entries(services)) {
    t.ok(list(asMap(service).security_opt).some((o) => /^no-new-privileges(:true)?$/.test(o)), `${name}: security_opt no-new-privileges:true`)
    t.notOk(asMap(service).privileged === 'true', `${name}: not privileged`)
    t.notOk(['host'].includes(String(asMap(service).network_mode)), `${name}: not on the host network`)
  }
})

const composeCli = spawnSync('docker-compose', ['version'], { encoding: 'utf8' })
const noComposeCli = composeCli.error !== undefined || composeCli.status !== 0

t.test('docker-compose.yml: `docker-compose config` accepts it with a password, and refuses it without', { skip: noComposeCli && 'docker-compose is not installed' }, async (t) => {
  // Our own env files, so that a developer's .env or environment does not change the outcome.
  const dir = mkdtempSync(path.join(tmpdir(), 'rewind-compose-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const withPassword = path.join(dir, 'test.env')
  writeFileSync(withPassword, 'POSTGRES_PASSWORD=Test0nly\n')
  const env = { ...process.env }
  delete env.POSTGRES_PASSWORD
  const config = (envFile: string): ReturnType<typeof spawnSync> =>
    spawnSync('docker-compose', ['--env-file', envFile, '-f', 'docker-compose.yml', 'config', '-q'], { cwd: root, encoding: 'utf8', env })
  const accepted = config(withPassword)
  t.equal(accepted.status, 0, `with a password it is accepted ${String(accepted.stderr)}`)
  const refused = config(path.join(root, '.env.example'))
  t.not(refused.status, 0, 'with .env.example unchanged (no password) it refuses')
  t.match(String(refused.stderr), /POSTGRES_PASSWORD/, 'and says which variable to set')
})
