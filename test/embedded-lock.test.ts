import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { claimEmbeddedDatabase } from '../src/store/database.js'

// The embedded database is one process's at a time: the service, `rewind keys …` and
// `npm run migrate` refuse a DATA_DIR that a running process holds (two would corrupt it).

t.test('a data folder held by a running process is refused; a stale claim is taken over; release frees it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rewind-claim-'))
  const file = path.join(dir, 'rewind.pid')
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' })
  t.teardown(() => { other.kill('SIGKILL') })
  writeFileSync(file, String(other.pid))
  t.throws(() => claimEmbeddedDatabase(dir), { message: `the embedded database in ${dir} is in use by process ${other.pid}: stop it first (or use DATABASE_URL)` })
  t.equal(readFileSync(file, 'utf8'), String(other.pid), 'the holder keeps its claim')

  other.kill('SIGKILL')
  await new Promise((resolve) => other.once('exit', resolve))
  const release = claimEmbeddedDatabase(dir)
  t.equal(readFileSync(file, 'utf8'), String(process.pid), 'a claim left by a process that is gone is taken over')
  release()
  t.equal(existsSync(file), false, 'released')
})
