import { existsSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import helmet from '@fastify/helmet'
import fastifyStatic from '@fastify/static'

/** Options of the history viewer at /ui. */
export interface ViewerOptions {
  /** The Content-Security-Policy `frame-ancestors` sources that may embed the viewer (UI_FRAME_ANCESTORS). */
  frameAncestors: string[]
}

/** The path the Preact + htm module (one file, from node_modules) is served at. */
export const VENDOR_PATH = 'vendor/preact-htm.js'

/**
 * The viewer's static files: src/ui/public beside this module when run from the sources (tsx);
 * dist/src/ui/public when compiled (the Docker image copies them there); the sources' copy
 * when compiled without it (`npm run build && npm run start:prod` in a checkout).
 */
export function publicDirectory (): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const candidates = [
    path.join(here, 'public'),
    path.resolve(here, '..', '..', '..', 'src', 'ui', 'public')
  ]
  const found = candidates.find((dir) => existsSync(path.join(dir, 'index.html')))
  if (found === undefined) throw new Error(`the viewer's static files (index.html) are in none of ${candidates.join(', ')}`)
  return found
}

/** The file of htm's standalone Preact build (html, render, hooks: one ES module). */
export function vendorFile (): string {
  try {
    return fileURLToPath(import.meta.resolve('htm/preact/standalone'))
  } catch {
    // Without import.meta.resolve (older loaders): next to htm's CommonJS entry point.
    const main = createRequire(import.meta.url).resolve('htm')
    return path.resolve(path.dirname(main), '..', 'preact', 'standalone.mjs')
  }
}

/** Files the viewer asks for under /ui/assets/ and /ui/vendor/: a missing one is a 404, never the page. */
const ASSET_PREFIXES = ['assets/', 'vendor/']

const INDEX_EXAMPLE = '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Rewind history</title>…</head>\n' +
  '<body><div id="app"></div><script type="module" src="/ui/assets/app.js"></script></body>\n</html>'

/**
 * The viewer's Content-Security-Policy: its own scripts only (no inline script, no eval), its own
 * styles, API calls to this origin only, and framing by `frameAncestors` alone (X-Frame-Options
 * is left out: it cannot name several origins, and CSP frame-ancestors replaces it).
 */
export function viewerCsp (frameAncestors: string[]): Record<string, string[]> {
  return {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    fontSrc: ["'self'"],
    connectSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: frameAncestors.length > 0 ? frameAncestors : ["'none'"]
  }
}

/** The history viewer: its page and static files, served without a key (the page signs in with one). */
export function viewerRoutes (options: ViewerOptions): FastifyPluginAsync {
  return async (app) => {
    const root = publicDirectory()
    const vendor = vendorFile()
    await app.register(helmet, {
      contentSecurityPolicy: { useDefaults: false, directives: viewerCsp(options.frameAncestors) },
      frameguard: false,
      referrerPolicy: { policy: 'no-referrer' },
      // The viewer is embedded by other origins' pages (frame-ancestors): no isolation headers that would refuse it.
      crossOriginEmbedderPolicy: false,
      crossOriginOpenerPolicy: false,
      crossOriginResourcePolicy: { policy: 'same-origin' },
      hsts: false
    })
    await app.register(fastifyStatic, { root, serve: false })

    const page = async (reply: FastifyReply): Promise<FastifyReply> => {
      reply.header('cache-control', 'no-cache')
      return await reply.type('text/html; charset=utf-8').sendFile('index.html', root, { cacheControl: false })
    }

    app.get('/ui', {
      config: { access: 'public' },
      schema: {
        operationId: 'viewer',
        tags: ['viewer'],
        summary: 'The history viewer (HTML)',
        description: 'A web page to browse entity types and entities, read an entity\'s timeline of versions with field-level diffs, ' +
          'its relations as they were, compare two versions, read transactions, and preview then confirm reverts. It signs in with an ' +
          'API key or a viewer token (`POST /viewer-tokens`), pasted or given in the URL fragment (`/ui/entities/article/1#token=…`), ' +
          'kept in the tab\'s session storage. Deep links: `/ui/entities/{type}/{id}`, `/ui/entities/{type}/{id}/versions/{t}`, ' +
          '`/ui/transactions`, `/ui/transactions/{id}`. The page itself needs no key; embedding it in a frame is allowed to the ' +
          'origins of `UI_FRAME_ANCESTORS`.',
        querystring: { type: 'object', properties: {}, additionalProperties: true },
        response: {
          200: {
            description: 'The viewer\'s page',
            content: { 'text/html': { schema: { type: 'string' }, example: INDEX_EXAMPLE } }
          }
        }
      }
    }, async (_request, reply) => await page(reply))

    app.get('/ui/*', {
      config: { access: 'public' },
      schema: { hide: true, querystring: { type: 'object', properties: {}, additionalProperties: true } }
    }, async (request, reply) => {
      const rest = (request.params as { '*': string })['*']
      if (rest === VENDOR_PATH) {
        reply.header('cache-control', 'public, max-age=3600')
        return await reply.type('text/javascript; charset=utf-8').sendFile(path.basename(vendor), path.dirname(vendor), { cacheControl: false })
      }
      if (ASSET_PREFIXES.some((prefix) => rest.startsWith(prefix))) {
        const file = path.resolve(root, rest)
        if (file.startsWith(root + path.sep) && isFile(file)) {
          reply.header('cache-control', 'public, max-age=300')
          return await reply.sendFile(path.relative(root, file), root, { cacheControl: false })
        }
        return await reply.code(404).type('application/problem+json').send({
          type: 'urn:rewind:problem/not-found', title: 'Not Found', status: 404, detail: `the viewer has no file ${rest}`, instance: request.url
        })
      }
      // Every other path is a view of the page (/ui/entities/article/1, /ui/transactions/12, …): the page routes it.
      return await page(reply)
    })
  }
}

function isFile (file: string): boolean {
  try {
    return statSync(file).isFile()
  } catch {
    return false
  }
}
