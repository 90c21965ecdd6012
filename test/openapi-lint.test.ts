import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

// The committed OpenAPI document passes Redocly's recommended rules with no error (warnings are allowed:
// a localhost server in `servers`, the probes having no 4xx, a license without a URL).

const root = fileURLToPath(new URL('..', import.meta.url))

t.test('redocly lint openapi/openapi.json: no errors', async (t) => {
  const bin = fileURLToPath(new URL('../node_modules/.bin/redocly', import.meta.url))
  let output: string
  let code = 0
  try {
    const { stdout, stderr } = await promisify(execFile)(bin, ['lint', 'openapi/openapi.json', '--format=summary'], { cwd: root, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } })
    output = stdout + stderr
  } catch (error) {
    const e = error as { code?: number, stdout?: string, stderr?: string }
    code = e.code ?? 1
    output = `${e.stdout ?? ''}${e.stderr ?? ''}`
  }
  t.equal(code, 0, `redocly lint exits 0\n${output}`)
  t.equal(/^error\s/m.test(output), false, 'no rule reports an error')
})
