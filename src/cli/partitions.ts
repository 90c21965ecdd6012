import { createReadStream, createWriteStream, existsSync, renameSync } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { Command } from 'commander'
import type { Db } from '../store/database.js'

/** Runs `work` on the database as its owner (DATABASE_URL or the embedded one): see withDatabase in main.ts. */
export type WithDatabase = <T>(work: (db: Db) => Promise<T>) => Promise<T>

/**
 * `rewind partitions`: the operator's view of the partitions of `versions` (docs/partitions.md):
 * list them, archive an old one to a file (detached from the database), restore it from the file,
 * compact closed ones (rewritten in entity order).
 */
export function registerPartitionsCommand (program: Command, withDatabase: WithDatabase): void {
  const partitions = program.command('partitions').description('the partitions of the version history (by transaction id)')

  partitions.command('list')
    .description('list the partitions, oldest first: name, transaction ids, state, versions')
    .option('--json', 'one JSON line per partition')
    .action(async (options: { json?: boolean }) => {
      const service = await import('../services/partitions.js')
      const found = await withDatabase(async (db) => await service.partitions(db))
      for (const p of found) {
        console.log(options.json === true
          ? JSON.stringify(p)
          : `${p.name}\t${p.fromId}..${p.toId - 1}\t${p.state}${p.state === 'archived' ? `\t${p.archivedRows ?? '?'} versions\tsha256 ${p.archiveSha256 ?? '(not written)'}` : p.compactedAt !== null ? `\tcompacted ${p.compactedAt}` : ''}`)
      }
    })

  partitions.command('archive')
    .description('detach a partition whose transaction ids are all used, write its versions to a file, then drop it from the database')
    .argument('<name>', 'the partition (see rewind partitions list)')
    .requiredOption('--out <file>', 'the archive to write (NDJSON: a header line, then one version per line); must not exist')
    .action(async (name: string, options: { out: string }) => {
      if (existsSync(options.out)) throw new Error(`"${options.out}" exists: archives are never overwritten`)
      const service = await import('../services/partitions.js')
      await withDatabase(async (db) => {
        const partial = `${options.out}.partial`
        const out = createWriteStream(partial, { flags: 'w' })
        const digest = service.archiveDigest()
        let versions = -1
        for await (const line of service.archiveLines(db, name)) {
          digest.add(line)
          versions++
          if (!out.write(`${line}\n`)) await once(out, 'drain')
        }
        out.end()
        await once(out, 'finish')
        renameSync(partial, options.out)
        const sha256 = digest.hex()
        await service.finishArchive(db, name, sha256)
        console.log(`archived ${name}: ${versions} versions in ${options.out} (sha256 ${sha256}); it is detached and dropped from the database`)
      })
    })

  partitions.command('compact')
    .description('rewrite a partition whose transaction ids are all used in entity order, so that each entity\'s history there sits on a few pages (readers go on meanwhile)')
    .argument('[name]', 'the partition (see rewind partitions list)')
    .option('--closed', 'every attached partition whose ids are all used and that is not compacted yet, oldest first')
    .action(async (name: string | undefined, options: { closed?: boolean }) => {
      if ((name === undefined) === (options.closed !== true)) throw new Error('name one partition, or give --closed')
      const service = await import('../services/partitions.js')
      const done = await withDatabase(async (db) => await service.compactPartitions(db, name))
      for (const d of done) console.log(`compacted ${d.partition}: ${d.versions} versions rewritten in entity order`)
      if (done.length === 0) console.log('no partition to compact: every closed one is compacted already')
    })

  partitions.command('restore')
    .description('load an archived partition from its file and attach it again (its versions are read as before)')
    .argument('<file>', 'the archive written by rewind partitions archive')
    .action(async (file: string) => {
      if (!existsSync(file)) throw new Error(`no file "${file}"`)
      const service = await import('../services/partitions.js')
      const restored = await withDatabase(async (db) => await service.restoreArchive(db, createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })))
      console.log(`restored ${restored.partition}: ${restored.rows} versions, attached again`)
    })
}
