// Publishing a base image the way an admin does it from a workstation: `cider image push` of an
// IPSW into a registry that Cider Fleet marks "immutable tags". The CLI asks the running server
// for the policy with an API token, so pushing over an existing tag fails; the dashboard shows
// the image's facts from its plists and the SBOM attached with `cider image attach`.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSyntheticIpsw } from '@cider/oci/testing';
import { expect, test } from '@playwright/test';
import { connectLocalRegistry, localRegistryHost, mutate } from './api.ts';
import { signInAsAdmin } from './sign-in.ts';
import { stackInfo } from './stack-info.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cider(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'apps/cli/src/cider.ts'), ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('cider image push follows the immutable-tags policy set in the dashboard; the image shows its facts and SBOM', async ({ page }) => {
  test.setTimeout(90_000);
  const stack = stackInfo();
  // The same registry under its localhost name, as the other journeys use it (created if missing).
  const host = localRegistryHost(stack.registryHost);
  const repository = `e2e/macos-${Date.now().toString(36)}`;
  const work = await mkdtemp(join(tmpdir(), 'cider-e2e-publish-'));
  const api = page.request;
  try {
    await signInAsAdmin(page, stack);
    const { id: registryId } = await connectLocalRegistry(api, stack);
    await mutate(api, stack.webUrl, 'registries.setImmutableTags', { id: registryId, immutableTags: true });
    const { token } = await mutate<{ token: string }>(api, stack.webUrl, 'tokens.api.create', { name: 'publisher workstation' });
    const env = { CIDER_SERVER: stack.webUrl, CIDER_TOKEN: token, DOCKER_CONFIG: join(work, 'docker') };

    const ipsw = await makeSyntheticIpsw({ dir: work, payloadBytes: 2 * 1024 * 1024 });
    const first = await cider(['image', 'push', ipsw, `${host}/${repository}`], env);
    expect(first.stderr).not.toMatch(/\n\s+at /);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`pushed ${host}/${repository}:15.2-24C101`);

    const again = await cider(['image', 'push', ipsw, `${host}/${repository}`], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^cider: Tag "15\.2" already exists in .* this registry has immutable tags: nothing was pushed/);
    expect(again.stderr).not.toMatch(/\n\s+at /);

    const revoked = await cider(['image', 'push', ipsw, `${host}/${repository}`, '--tag', 'other'], { ...env, CIDER_TOKEN: 'cat_not-a-real-token' });
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toMatch(/refused CIDER_TOKEN \(HTTP 401\)/);

    const sbom = join(work, 'sbom.spdx.json');
    await writeFile(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'macOS 15.2' }));
    const attached = await cider(['image', 'attach', `${host}/${repository}:15.2`, sbom, '--artifact-type', 'application/spdx+json'], env);
    expect(attached.code).toBe(0);

    await page.goto(`${stack.webUrl}/images/${registryId}/${repository}/-/tags/15.2`);
    const main = page.getByRole('main');
    await expect(main).toContainText('macOS');
    await expect(main).toContainText('24C101');
    await expect(main).toContainText('arm64');
    await expect(main).toContainText('VirtualMac2,1');
    await expect(main).toContainText('sbom.spdx.json');
    await page.screenshot({ path: 'test-results/image-publish.png', fullPage: true });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
