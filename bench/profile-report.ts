import type { ProfileFigures } from './profile.js'

/** `--only profile`'s tables: one transaction's microseconds, by who spent them and on what. */

const us = (micros: number): string => Math.round(micros).toLocaleString('en-US')
const pct = (part: number, whole: number): string => whole === 0 ? '–' : `${(100 * part / whole).toFixed(1)} %`

/** From the CPU of a prepared append of n versions and of 1: what each version adds, and what every append costs whatever its size. */
function splitOf (prepared: ProfileFigures['explain']['prepared']): string {
  const many = prepared.find((p) => p.versions > 1)
  const one = prepared.find((p) => p.versions === 1)
  if (many === undefined || one === undefined) return ''
  const perVersion = (many.cpuMicros - one.cpuMicros) / (many.versions - 1)
  return `So each version adds about ${us(perVersion)} µs and every append costs about ${us(one.cpuMicros - perVersion)} µs whatever its size ` +
    `(${pct(one.cpuMicros - perVersion, many.cpuMicros)} of the ${many.versions}-version one).`
}

export function profileMarkdown (f: ProfileFigures): string {
  const n = f.load.transactions
  const per = (micros: number): number => micros / n
  const { cpu, profile: { breakdown: b } } = f
  const other = cpu.machineBusyMicros - cpu.serviceMicros - cpu.postgresBackendsMicros - cpu.loadGeneratorMicros
  /** Busy sample time → the main thread's CPU (the samples' clock also runs while the thread waits for a core). */
  const cpuOf = (sampledMicros: number): number => b.busyMicros === 0 ? 0 : sampledMicros * cpu.serviceMainThreadMicros / b.busyMicros
  const lines = [
    `${f.workload}, ${f.changesPerTransaction} changes per transaction, ${f.clients} clients, ${cpu.seconds.toFixed(1)} s: ` +
      `${n.toLocaleString('en-US')} transactions (${Math.round(f.load.transactionsPerSecond)} /s, ${Math.round(f.load.versionsPerSecond)} versions/s), ` +
      `latency p50 ${f.load.latencyP50Ms} ms, p99 ${f.load.latencyP99Ms} ms; ${f.load.non2xx} non-201, ${f.load.errors} errors. ` +
      `Load average ${cpu.loadAverage.start.toFixed(1)} → ${cpu.loadAverage.end.toFixed(1)} on ${cpu.cores} cores.`,
    '',
    '**CPU per transaction, by process** (/proc, the window):',
    '',
    '| who | µs per transaction | share of the machine\'s busy time |',
    '|---|---:|---:|',
    `| the service (all threads) | ${us(per(cpu.serviceMicros))} | ${pct(cpu.serviceMicros, cpu.machineBusyMicros)} |`,
    `| … of it, its main thread (JavaScript, the event loop) | ${us(per(cpu.serviceMainThreadMicros))} | ${pct(cpu.serviceMainThreadMicros, cpu.machineBusyMicros)} |`,
    `| (the main thread, ready but waiting for a core: not CPU) | (${us(per(cpu.serviceMainThreadWaitMicros))}) | |`,
    `| PostgreSQL backends serving it | ${us(per(cpu.postgresBackendsMicros))} | ${pct(cpu.postgresBackendsMicros, cpu.machineBusyMicros)} |`,
    `| the load generator (autocannon, this process) | ${us(per(cpu.loadGeneratorMicros))} | ${pct(cpu.loadGeneratorMicros, cpu.machineBusyMicros)} |`,
    `| everything else on the machine | ${us(per(other))} | ${pct(other, cpu.machineBusyMicros)} |`,
    `| the machine, busy (${(cpu.machineBusyMicros / (cpu.seconds * cpu.cores * 1e6) * 100).toFixed(0)} % of its ${cpu.cores} cores) | ${us(per(cpu.machineBusyMicros))} | 100 % |`,
    '',
    `**The service's main thread per transaction, by kind of work**: shares of the CPU profile's busy samples (${b.samples.toLocaleString('en-US')} samples, ` +
      `one every ${f.profile.samplingMicros} µs asked; ${pct(b.busyMicros, b.sampledMicros)} of the window not idle), in µs of the main thread's measured CPU ` +
      `(${us(per(cpu.serviceMainThreadMicros))} µs per transaction; the samples' own clock says ${us(per(b.busyMicros))}, time off the CPU included). ` +
      'Self: the innermost frame of that kind; total: any frame of that kind on the stack.',
    '',
    '| kind of work | self share | self µs (CPU) | total share | total µs (CPU) |',
    '|---|---:|---:|---:|---:|',
    ...b.categories.filter((c) => c.category !== 'idle' && c.totalMicros > 0).sort((x, y) => y.selfMicros - x.selfMicros)
      .map((c) => `| ${c.label} | ${pct(c.selfMicros, b.busyMicros)} | ${us(per(cpuOf(c.selfMicros)))} | ${pct(c.totalMicros, b.busyMicros)} | ${us(per(cpuOf(c.totalMicros)))} |`),
    `| **the main thread, busy** | 100 % | **${us(per(cpu.serviceMainThreadMicros))}** | | |`,
    `| idle, waiting for I/O (not CPU: the samples' clock, ${pct(b.sampledMicros - b.busyMicros, b.sampledMicros)} of the window) | | (${us(per(b.sampledMicros - b.busyMicros))}) | | |`,
    '',
    '**Functions with the most self time** (µs of CPU per transaction, as above):',
    '',
    '| function | where | counted as | µs |',
    '|---|---|---|---:|',
    ...b.topFunctions.filter((t) => t.category !== 'idle').slice(0, 20).map((t) => `| \`${t.functionName}\` | ${t.location} | ${t.category} | ${us(per(cpuOf(t.selfMicros)))} |`),
    '',
    `**PostgreSQL, per HTTP transaction** (pg_stat_database, the window): ${f.database.xactsPerTransaction.toFixed(2)} database transactions ` +
      `(statements outside BEGIN … COMMIT), ${f.database.rowsInsertedPerTransaction.toFixed(2)} rows inserted; ${f.database.rollbacks} rollbacks.`,
    '',
    `**Fixed costs, one client** (medians of ${f.roundTrips.requests}): PostgreSQL round trip (\`select 1\`) ${us(f.roundTrips.postgresSelect1Micros)} µs; ` +
      `a one-row insert ${us(f.roundTrips.insertInTransactionMicros)} µs in a transaction, ${us(f.roundTrips.insertAndCommitMicros)} µs with its commit ` +
      `(a commit: ${us(f.roundTrips.commitMicros)} µs); HTTP round trip through the service (GET /health) ${us(f.roundTrips.httpHealthMicros)} µs.`,
    '',
    `**One append (${f.explain.versions} versions) in PostgreSQL**, the service's statement replayed on one connection in rolled-back transactions (no commit), ` +
      `${f.explain.variants[0]!.runs} runs of each variant in ${f.explain.rounds} rounds, medians: the backend's CPU (schedstat; parse and plan included: sent unprepared), the wall time seen by the client, the WAL written:`,
    '',
    '| variant | CPU µs | Δ CPU µs | wall µs | WAL bytes | Δ WAL |',
    '|---|---:|---:|---:|---:|---:|',
    ...f.explain.variants.map((v) => {
      const base = f.explain.variants[0]!
      return `| ${v.label} | ${us(v.cpuMicros)} | ${v === base ? '' : us(v.cpuMicros - base.cpuMicros)} | ${us(v.wallMicros)} | ` +
        `${us(v.walBytes)} | ${v === base ? '' : us(v.walBytes - base.walBytes)} |`
    }),
    '',
    `As the service runs it (a prepared statement, every index; medians of ${f.explain.prepared[0]?.runs ?? 0}): ` +
      f.explain.prepared.map((p) => `${p.versions} version${p.versions === 1 ? '' : 's'}: ${us(p.cpuMicros)} µs CPU, ${us(p.wallMicros)} µs wall, ${us(p.walBytes)} bytes of WAL`).join('; ') + '. ' +
      splitOf(f.explain.prepared),
    '',
    `EXPLAIN (ANALYZE, BUFFERS, WAL), every index (the median of 9): planning ${us(f.explain.planningMicros)} µs, execution ${us(f.explain.executionMicros)} µs.`,
    `Triggers in it: ${f.explain.triggers.map((t) => `${t.name} ${t.calls} calls, ${us(t.micros)} µs`).join('; ') || 'none'}.`,
    '',
    `**Each index, per row written** (${Object.entries(f.indexRowCosts.rows).map(([t, n]) => `${n.toLocaleString('en-US')} rows of ${t}`).join(', ')} inserted again into a copy of the table ` +
      `holding the rest, in one statement, with and without each; medians of ${f.indexRowCosts.rounds} rounds). A ${f.changesPerTransaction}-change append writes ` +
      `${f.changesPerTransaction} rows of versions and 1 of transactions:`,
    '',
    '| table | index or key | CPU µs per row | WAL bytes per row | CPU µs per append | WAL bytes per append |',
    '|---|---|---:|---:|---:|---:|',
    ...Object.entries(f.indexRowCosts.base).map(([t, b]) => `| ${t} | the row itself, its primary key, reading it to copy | ${b.cpuMicrosPerRow.toFixed(1)} | ${Math.round(b.walBytesPerRow)} | | |`),
    ...f.indexRowCosts.indexes.map((i) => {
      const n = i.table === 'versions' ? f.changesPerTransaction : 1
      return `| ${i.table} | ${i.kind} ${i.name}: ${i.definition} | ${i.cpuMicrosPerRow.toFixed(1)} | ${Math.round(i.walBytesPerRow)} | ${us(n * i.cpuMicrosPerRow)} | ${us(n * i.walBytesPerRow)} |`
    }),
    '',
    `**The indexes under concurrency**: pgbench (${f.indexCosts.workload}, ${f.indexCosts.clients} clients) on the service's schema, ${f.indexCosts.rounds} rounds of ${f.indexCosts.seconds} s runs:`,
    '',
    '| variant | versions/s (each round) | middle round (the lower of two) | / as migrated |',
    '|---|---|---:|---:|',
    ...f.indexCosts.variants.map((v) => `| ${v.label} | ${v.versionsPerSecond.map((x) => Math.round(x).toLocaleString('en-US')).join(' · ')} | ` +
      `${Math.round(v.medianVersionsPerSecond).toLocaleString('en-US')} | ${(100 * v.overAsMigrated).toFixed(0)} % |`),
    `| minimal schema (reference) | ${f.indexCosts.minimalVersionsPerSecond.map((x) => Math.round(x).toLocaleString('en-US')).join(' · ')} | | |`
  ]
  return lines.join('\n')
}
