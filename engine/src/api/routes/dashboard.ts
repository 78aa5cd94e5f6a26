import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../protocolErrors.js';

/**
 * Where `npm run build` puts the dashboard (engine/scripts/build-ui.mjs): `engine/dist/ui`. This
 * module runs from engine/src (tests) or engine/dist (the package), two levels below the engine.
 */
export const DASHBOARD_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/ui');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
	'.html': 'text/html; charset=utf-8',
	'.js': 'text/javascript; charset=utf-8',
	'.css': 'text/css; charset=utf-8',
	'.svg': 'image/svg+xml',
	'.txt': 'text/plain; charset=utf-8',
};

/**
 * The page holds an API key (in sessionStorage): it runs only its own script, talks only to this
 * engine, and cannot be framed by another site.
 */
const SECURITY_HEADERS = {
	'content-security-policy':
		"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	'x-content-type-options': 'nosniff',
	'referrer-policy': 'no-referrer',
	'x-frame-options': 'DENY',
};

interface Asset {
	type: string;
	body: Buffer;
	gzipped: Buffer;
	etag: string;
}

/** Every file of the built page, read once at start (a few tens of KiB), gzipped once. */
function loadAssets(dir: string): Map<string, Asset> {
	const assets = new Map<string, Asset>();
	if (!existsSync(dir)) return assets;
	for (const name of readdirSync(dir)) {
		const type = CONTENT_TYPES[path.extname(name)];
		if (type === undefined) continue;
		const body = readFileSync(path.join(dir, name));
		assets.set(name, { type, body, gzipped: gzipSync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
	}
	return assets;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset) {
	// Revalidated on every load (a new engine version must not run an old script), cheap with the ETag.
	void reply.headers({ ...SECURITY_HEADERS, 'content-type': asset.type, 'cache-control': 'no-cache', etag: asset.etag, vary: 'accept-encoding' });
	if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
	if (/\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) return reply.header('content-encoding', 'gzip').send(asset.gzipped);
	return reply.send(asset.body);
}

/**
 * The dashboard at `/ui` (README, "Dashboard"): static files, public like /docs — the page holds no
 * data, it calls the API with the key its user enters. A path that is not one of its files is a
 * view of the page itself (`/ui/queues/emails`), so a reload or a shared link opens that view;
 * a missing file (a path with an extension) is a 404.
 */
export function dashboardRoutes(dir = DASHBOARD_DIR) {
	return async (app: FastifyInstance) => {
		const assets = loadAssets(dir);
		const page = assets.get('index.html');
		const serve = async (request: FastifyRequest<{ Params: { '*'?: string } }>, reply: FastifyReply) => {
			if (page === undefined) {
				return reply.code(404).send(errorBody('dashboard_not_built', 'The dashboard is not built into this engine: run `npm run build`'));
			}
			const file = request.params['*'] ?? '';
			const asset = assets.get(file);
			if (asset !== undefined) return send(request, reply, asset);
			if (path.extname(file) !== '') return reply.code(404).send(errorBody('not_found', `No dashboard file ${file}`));
			return send(request, reply, page);
		};
		const schema = { hide: true };
		app.get('/ui', { schema }, serve);
		app.get('/ui/*', { schema }, serve);
	};
}
