// deploy/'s Grafana dashboard and Prometheus alert rules: promtool accepts the rules and their
// unit tests (alerts.test.yml) pass, the dashboard is JSON Grafana can import (every panel with a
// query has PromQL, on the dashboard's Prometheus data source), and every metric either names is
// one of Cider Fleet's three endpoints' (metrics.test.ts and apps/web's metrics.test.ts check each
// name against a real scrape).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deployDir, deployMetricNames, promtoolCheckRules, promtoolTestRules } from '@cider/services/testing';
import { describe, expect, it } from 'vitest';

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string }[];
}

describe('deploy/ (Grafana dashboard, Prometheus alert rules)', () => {
  it('has alert rules promtool accepts, for a stalled rollout, offline nodes, low disks and verification failures', async () => {
    const file = join(deployDir, 'prometheus/alerts.yml');
    const result = await promtoolCheckRules(file);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.code).toBe(0);
    const text = await readFile(file, 'utf8');
    for (const alert of ['CiderRolloutStalled', 'CiderNodeOffline', 'CiderNodeDiskLow', 'CiderVerificationFailures']) expect(text).toContain(`alert: ${alert}`);
  });

  it('fires the rules when and only when their unit tests say (a stalled rollout, offline nodes, a failed verification, a low disk)', async () => {
    const result = await promtoolTestRules(join(deployDir, 'prometheus/alerts.test.yml'));
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.output).not.toMatch(/FAILED/);
    expect(result.code).toBe(0);
  });

  it('has a dashboard whose every panel queries Prometheus', async () => {
    const dashboard = JSON.parse(await readFile(join(deployDir, 'grafana/cider-fleet.json'), 'utf8')) as { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; type: string }[] } };
    expect(dashboard.title).toBe('Cider Fleet');
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource' }));
    const graphs = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(graphs.length).toBeGreaterThanOrEqual(15);
    for (const panel of graphs) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.expr, panel.title).toMatch(/\bcider_(control|web|agent)_[a-z0-9_]+/);
    }
    const ids = dashboard.panels.map((panel) => (panel as Panel & { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('names only metrics of the control plane, web or agents', async () => {
    const names = [...(await deployMetricNames())];
    expect(names.filter((name) => !/^cider_(control|web|agent)_[a-z0-9_]+$/.test(name))).toEqual([]);
  });
});
