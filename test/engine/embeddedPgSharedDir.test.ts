import { chmod, chown, lstat, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedPostgresError, ensureSharedDir } from '../../engine/src/db/embeddedPostgres.js';

/**
 * The embedded cluster's shared folder (EMBEDDED_PG_SHARED_DIR): created safely, never through a
 * symbolic link, refused — with the path and the fix named — when another user could have planted
 * or could replace it. Every case works in a temporary folder, never in /var/lib or /var/tmp.
 */
const asRoot = process.getuid?.() === 0;
const folders: string[] = [];
let base: string;

beforeEach(async () => {
	base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'pg-shared-test-')));
	await chmod(base, 0o755);
	folders.push(base);
});
afterAll(async () => {
	for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function failure(root: string, ...sub: string[]): Promise<string> {
	const error = await ensureSharedDir(root, ...sub).then(
		() => undefined,
		(e: unknown) => e,
	);
	expect(error).toBeInstanceOf(EmbeddedPostgresError);
	const message = (error as Error).message;
	expect(message).not.toContain('\n');
	return message;
}

const modeOf = async (p: string) => (await lstat(p)).mode & 0o7777;

describe('embedded PostgreSQL shared folder', () => {
	it('creates the folder and its subfolders 0755, whatever the umask, and accepts them again', async () => {
		const root = path.join(base, 'task-engine-postgres');
		const previous = process.umask(0o077);
		try {
			expect(await ensureSharedDir(root, 'clusters', 'abc')).toBe(path.join(root, 'clusters', 'abc'));
		} finally {
			process.umask(previous);
		}
		for (const p of [root, path.join(root, 'clusters'), path.join(root, 'clusters', 'abc')]) expect(await modeOf(p)).toBe(0o755);
		expect(await ensureSharedDir(root, 'clusters', 'abc')).toBe(path.join(root, 'clusters', 'abc'));
		expect(await ensureSharedDir(root)).toBe(root);
	});

	it('creates missing parents (0755 whatever the umask), and follows a link among the parents to a safe folder', async () => {
		const root = path.join(base, 'deep', 'er', 'shared');
		const previous = process.umask(0o077);
		try {
			expect(await ensureSharedDir(root)).toBe(root);
		} finally {
			process.umask(previous);
		}
		expect(await modeOf(path.join(base, 'deep'))).toBe(0o755);
		expect(await modeOf(path.join(base, 'deep', 'er'))).toBe(0o755);
		const real = path.join(base, 'real-lib');
		await mkdir(real, { mode: 0o755 });
		await symlink(real, path.join(base, 'lib'));
		expect(await ensureSharedDir(path.join(base, 'lib', 'shared'), 'clusters')).toBe(path.join(real, 'shared', 'clusters'));
	});

	it('refuses a symbolic link as the folder or below it, naming it and the fix', async () => {
		const elsewhere = path.join(base, 'elsewhere');
		await mkdir(elsewhere, { mode: 0o755 });
		const root = path.join(base, 'shared');
		await symlink(elsewhere, root);
		expect(await failure(root)).toBe(
			`${root} is a symbolic link; the embedded PostgreSQL's shared folder must be a real folder owned by root: remove the link (rm ${root}) and start again, or set EMBEDDED_PG_SHARED_DIR to another folder.`,
		);

		const root2 = path.join(base, 'shared2');
		await mkdir(root2, { mode: 0o755 });
		await symlink(elsewhere, path.join(root2, 'clusters'));
		expect(await failure(root2, 'clusters', 'abc')).toMatch(new RegExp(`^${path.join(root2, 'clusters')} is a symbolic link`));
		// Nothing was created through the link.
		expect(await lstat(path.join(elsewhere, 'abc')).catch(() => null)).toBeNull();
	});

	it('refuses a folder writable by others, and a file in its place', async () => {
		const root = path.join(base, 'shared');
		await mkdir(root);
		await chmod(root, 0o777);
		expect(await failure(root)).toBe(
			`${root} is writable by other users (mode 0777): make it writable by its owner only (chmod go-w ${root}) and start again, or set EMBEDDED_PG_SHARED_DIR to another folder.`,
		);
		await chmod(root, 0o775);
		expect(await failure(root)).toMatch(/mode 0775/);
		const file = path.join(base, 'file');
		await writeFile(file, '');
		expect(await failure(file)).toMatch(new RegExp(`^${file} is not a folder: move it away`));
	});

	it('refuses parents that other users may write, unless sticky like /tmp', async () => {
		const parent = path.join(base, 'open');
		await mkdir(parent);
		await chmod(parent, 0o777);
		expect(await failure(path.join(parent, 'shared'))).toMatch(
			new RegExp(`^${parent} \\(a parent of the embedded PostgreSQL's shared folder ${parent}/shared\\) is owned by uid \\d+ with mode 0777: other users could replace what is below it; or set EMBEDDED_PG_SHARED_DIR to another folder whose parents only root can write`),
		);
		await chmod(parent, 0o1777);
		expect(await ensureSharedDir(path.join(parent, 'shared'))).toBe(path.join(parent, 'shared'));
	});

	it.skipIf(!asRoot)('refuses a folder or parent another user owns (a folder planted before the first start)', async () => {
		const root = path.join(base, 'shared');
		await mkdir(path.join(root, 'clusters'), { recursive: true, mode: 0o755 });
		await chown(path.join(root, 'clusters'), 65534, 65534);
		expect(await failure(root, 'clusters', 'abc')).toBe(
			`${path.join(root, 'clusters')} belongs to uid 65534, not to the engine's user (uid 0): another user may have created it; remove it (rm -r ${path.join(root, 'clusters')}) and start again, or set EMBEDDED_PG_SHARED_DIR to another folder.`,
		);
		await chown(root, 65534, 65534);
		expect(await failure(root)).toMatch(new RegExp(`^${root} belongs to uid 65534`));

		const theirs = path.join(base, 'theirs');
		await mkdir(theirs, { mode: 0o755 });
		await chown(theirs, 65534, 65534);
		expect(await failure(path.join(theirs, 'shared'))).toMatch(new RegExp(`^${theirs} \\(a parent of .*\\) is owned by uid 65534`));
	});
});
