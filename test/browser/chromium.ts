import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it). Playwright's own browser downloads do not work here. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * A headless Chromium with the flags this machine needs (../shared/notes/chromium.md): no sandbox
 * (root), no GPU, and none of the background connections a closed network refuses. Playwright adds
 * a fresh user-data-dir of its own for every launch.
 */
export async function launchChromium(): Promise<Browser> {
	if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`);
	return chromium.launch({
		executablePath: CHROMIUM_PATH,
		headless: true,
		chromiumSandbox: false,
		args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
}
