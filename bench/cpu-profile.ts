import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'

/*
 * V8 CPU profiles as `node --cpu-prof` writes them (the DevTools protocol's Profiler.Profile):
 * a call tree (`nodes`, each a call frame with its children's ids) and the samples (the
 * node each sample hit, and the µs since the previous sample). Times are V8's monotonic
 * clock in µs, the clock process.hrtime reads on Linux (CLOCK_MONOTONIC), so a window timed
 * by another process on the same machine can cut the profile.
 */

export interface CallFrame { functionName: string, scriptId: string, url: string, lineNumber: number, columnNumber: number }
export interface ProfileNode { id: number, callFrame: CallFrame, hitCount?: number, children?: number[], positionTicks?: unknown }
export interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

/** One sample: the node it hit, when (µs, the profile's clock) and the time it stands for (µs until the next sample). */
export interface Sample { node: number, at: number, micros: number }

export const readCpuProfile = (file: string): CpuProfile => JSON.parse(readFileSync(file, 'utf8')) as CpuProfile

/** The main thread's profile of process `pid` in `dir` (`CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile`; workers have other thread ids). */
export function mainThreadProfile (dir: string, pid: number): string {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.split('.')[3] === String(pid) && f.split('.')[4] === '0')
  if (file === undefined) throw new Error(`no CPU profile of process ${pid} in ${dir} (did it exit normally?)`)
  return path.join(dir, file)
}

/** Every sample with its time; a sample stands for the time until the next one (the last: until the profile's end), as DevTools counts. */
export function samplesOf (profile: CpuProfile): Sample[] {
  const out: Sample[] = []
  let at = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0
    out.push({ node: profile.samples[i]!, at, micros: 0 })
  }
  for (let i = 0; i < out.length; i++) out[i]!.micros = Math.max(0, (out[i + 1]?.at ?? profile.endTime) - out[i]!.at)
  return out
}

/** The samples taken in [from, to) (µs, the profile's clock). */
export const samplesBetween = (profile: CpuProfile, from: number, to: number): Sample[] =>
  samplesOf(profile).filter((s) => s.at >= from && s.at < to)

/** Each node's parent id (the root's is undefined), by id. */
export function parentsOf (profile: CpuProfile): Map<number, number> {
  const parents = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id)
  return parents
}

/** A profile made of `samples` (of `profile`'s tree): hit counts recounted, times kept. */
export function profileOfSamples (profile: CpuProfile, samples: readonly Sample[]): CpuProfile {
  const hits = new Map<number, number>()
  for (const s of samples) hits.set(s.node, (hits.get(s.node) ?? 0) + 1)
  const startTime = samples[0]?.at ?? profile.startTime
  return {
    nodes: profile.nodes.map((n) => ({ ...n, hitCount: hits.get(n.id) ?? 0, positionTicks: undefined })),
    startTime,
    endTime: samples.length === 0 ? startTime : samples.at(-1)!.at + samples.at(-1)!.micros,
    samples: samples.map((s) => s.node),
    timeDeltas: samples.map((s, i) => s.at - (i === 0 ? startTime : samples[i - 1]!.at))
  }
}

/**
 * The same samples without (idle), sorted by stack and evenly spaced (each stands for the
 * mean time of a busy sample): a flame chart of this profile (DevTools') is a flame graph,
 * one box per call path, as wide as the time spent in it, the heaviest callee first. The
 * x axis is then CPU time, no longer the clock.
 */
export function stackSortedProfile (profile: CpuProfile, samples: readonly Sample[]): CpuProfile {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const busy = samples.filter((s) => byId.get(s.node)?.callFrame.functionName !== '(idle)')
  const parents = parentsOf(profile)
  // Each node's weight: its samples and its descendants'.
  const weight = new Map<number, number>()
  for (const s of busy) {
    for (let id: number | undefined = s.node; id !== undefined; id = parents.get(id)) weight.set(id, (weight.get(id) ?? 0) + 1)
  }
  const root = profile.nodes.find((n) => !parents.has(n.id))!
  const ordered: number[] = []
  const hits = new Map<number, number>()
  for (const s of busy) hits.set(s.node, (hits.get(s.node) ?? 0) + 1)
  // Depth first, heaviest child first; a node's own samples come before its children's.
  const stack = [root.id]
  while (stack.length > 0) {
    const id = stack.pop()!
    for (let i = 0; i < (hits.get(id) ?? 0); i++) ordered.push(id)
    const children = (byId.get(id)?.children ?? []).filter((c) => (weight.get(c) ?? 0) > 0)
    children.sort((a, b) => (weight.get(a) ?? 0) - (weight.get(b) ?? 0)) // popped heaviest first
    stack.push(...children)
  }
  const total = busy.reduce((sum, s) => sum + s.micros, 0)
  const step = ordered.length === 0 ? 1 : Math.max(1, Math.round(total / ordered.length))
  const startTime = samples[0]?.at ?? profile.startTime
  return {
    nodes: profile.nodes.map((n) => ({ ...n, hitCount: hits.get(n.id) ?? 0, positionTicks: undefined })),
    startTime,
    endTime: startTime + ordered.length * step,
    samples: ordered,
    timeDeltas: ordered.map((_, i) => (i === 0 ? 0 : step))
  }
}
