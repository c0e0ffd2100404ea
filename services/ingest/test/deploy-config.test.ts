/**
 * The files for running Sluice by hand (docker-compose.yml, Prometheus, Grafana) cannot be run here
 * (no Docker engine), so they are checked by construction: they parse, every service has an image or
 * a build whose files exist, ports and variables agree with the service's configuration and the
 * README, Prometheus scrapes what compose runs, and every metric the dashboard queries exists.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { startSluice, type Sluice } from './harness.js'

const repo = new URL('../../../../', import.meta.url).pathname
const read = (p: string) => readFileSync(join(repo, p), 'utf8')
const compose = parse(read('docker-compose.yml')) as { services: Record<string, any>; volumes?: Record<string, unknown> }

/** Every SLUICE_* variable the README's configuration table documents. */
function documentedVariables(): Set<string> {
  return new Set([...read('README.md').matchAll(/^\| `(SLUICE_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!))
}

describe('deployment files', () => {
  let s: Sluice
  let metricNames: Set<string>
  before(async () => {
    s = await startSluice()
    // Touch the labelled series so they appear in the scrape.
    await s.request('POST', '/v1/streams', { name: 'd', shardCount: 1 })
    await s.request('POST', '/v1/streams/d/records', { records: [{ partitionKey: 'k', data: 'AA==' }] })
    await s.request('GET', '/v1/streams/d/shards/shardId-000000000000/records?from=TRIM_HORIZON')
    const text = (await s.request('GET', '/metrics')).text
    metricNames = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!))
    // The archiver's metrics, as its source declares them (it is its own process and package).
    for (const m of read('services/archiver/src/metrics.ts').matchAll(/name: '(sluice_archiver_[a-z0-9_]+)'/g)) metricNames.add(m[1]!)
  })
  after(async () => s.close())

  it('docker-compose.yml: every service has an image or a build whose files exist, and every mounted file exists', () => {
    assert.ok(Object.keys(compose.services).length >= 4)
    for (const [name, svc] of Object.entries(compose.services)) {
      assert.ok(svc.image || svc.build, `${name} has neither image nor build`)
      if (svc.build) {
        assert.ok(existsSync(join(repo, svc.build.context ?? '.', svc.build.dockerfile ?? 'Dockerfile')), `${name}: Dockerfile missing`)
      }
      for (const v of svc.volumes ?? []) {
        const source = String(v).split(':')[0]!
        if (source.startsWith('./')) assert.ok(existsSync(join(repo, source)), `${name}: mounts ${source}, which does not exist`)
        else assert.ok(compose.volumes && source in compose.volumes, `${name}: named volume ${source} is not declared`)
      }
      for (const dep of Object.keys(Array.isArray(svc.depends_on) ? Object.fromEntries(svc.depends_on.map((d: string) => [d, 1])) : (svc.depends_on ?? {}))) {
        assert.ok(dep in compose.services, `${name} depends on unknown service ${dep}`)
      }
    }
  })

  it('docker-compose.yml: the ingest service uses only documented variables, listens where it publishes, and runs as non-root', () => {
    const ingest = compose.services.ingest
    const documented = documentedVariables()
    assert.ok(documented.size >= 10, `README documents ${documented.size} variables`)
    for (const name of Object.keys(ingest.environment).filter((n) => n.startsWith('SLUICE_'))) assert.ok(documented.has(name), `${name} is not in the README configuration table`)
    const port = ingest.environment.SLUICE_PORT
    assert.ok(ingest.ports.some((p: string) => p.endsWith(`:${port}`)), `publishes ${ingest.ports}, listens on ${port}`)
    assert.equal(ingest.environment.SLUICE_HOST, '0.0.0.0', 'inside a container it must listen beyond loopback')
    assert.match(ingest.environment.SLUICE_REDIS_URL, /^redis:\/\/redis:6379$/)
    const dockerfile = read(ingest.build.dockerfile)
    assert.match(dockerfile, /^USER node$/m)
    assert.match(dockerfile, /^HEALTHCHECK /m)
    assert.ok(ingest.healthcheck?.test, 'ingest has a healthcheck in compose too')
  })

  it('docker-compose.yml: the archiver and the ingest share one S3 (MinIO, its bucket created at start) and the archiver uses only documented variables', () => {
    const { archiver, ingest, minio } = compose.services
    const documented = documentedVariables()
    for (const name of Object.keys(archiver.environment).filter((n) => n.startsWith('SLUICE_'))) assert.ok(documented.has(name), `${name} is not in the README configuration table`)
    for (const name of ['SLUICE_S3_ENDPOINT', 'SLUICE_S3_BUCKET', 'SLUICE_S3_FORCE_PATH_STYLE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      assert.equal(String(archiver.environment[name]), String(ingest.environment[name]), `${name} differs between archiver and ingest`)
    }
    assert.equal(archiver.environment.AWS_ACCESS_KEY_ID, minio.environment.MINIO_ROOT_USER)
    assert.match(compose.services['minio-init'].entrypoint.join(' '), new RegExp(`mc mb --ignore-existing local/${archiver.environment.SLUICE_S3_BUCKET}`))
    assert.equal(archiver.depends_on['minio-init'].condition, 'service_completed_successfully')
    assert.equal(archiver.environment.SLUICE_ARCHIVER_HOST, '0.0.0.0', 'Prometheus scrapes it from another container')
  })

  it('the configuration the service reads is the configuration the README documents', () => {
    // dist/test → the package's src/config.ts
    // The ingest's config.ts, the archiver's, and the S3 settings both share.
    const sources = ['services/ingest/src/config.ts', 'services/archiver/src/config.ts', 'services/store/src/archive.ts'].map(read).join('\n')
    const mentioned = new Set([...sources.matchAll(/\b(SLUICE_[A-Z0-9_]+)\b/g)].map((m) => m[1]!))
    const readByCode = new Set([...mentioned].filter((name) => !name.endsWith('_')))
    assert.ok(readByCode.size >= 30, `found ${readByCode.size} variables in the config sources`)
    const documented = documentedVariables()
    for (const name of readByCode) assert.ok(documented.has(name), `${name} is read by the code but not documented`)
  })

  it('redis in compose keeps acknowledged records: AOF on, noeviction', () => {
    const conf = read('infra/redis/sluice.conf')
    assert.match(conf, /^appendonly yes$/m)
    assert.match(conf, /^maxmemory-policy noeviction$/m)
    assert.ok(compose.services.redis.command.includes('/usr/local/etc/redis/sluice.conf'))
  })

  it('Prometheus scrapes the services compose runs, on their ports', () => {
    const prom = parse(read('infra/prometheus/prometheus.yml')) as { scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }> }
    assert.ok(prom.scrape_configs.length >= 1)
    for (const job of prom.scrape_configs) {
      assert.equal(job.metrics_path ?? '/metrics', '/metrics')
      for (const target of job.static_configs.flatMap((c) => c.targets)) {
        const [host, port] = target.split(':')
        assert.ok(host! in compose.services, `${job.job_name} scrapes ${host}, which compose does not run`)
        const env = compose.services[host!].environment ?? {}
        assert.equal(String(env.SLUICE_PORT ?? env.SLUICE_ARCHIVER_METRICS_PORT), port, `${host} serves /metrics on ${port}`)
      }
    }
    assert.ok(compose.services.prometheus.volumes.some((v: string) => v.startsWith('./infra/prometheus/prometheus.yml:')))
  })

  it('Grafana is provisioned with the Prometheus datasource and a dashboard whose every query names a metric that exists', () => {
    const datasources = parse(read('infra/grafana/provisioning/datasources/prometheus.yml')) as { datasources: Array<{ uid: string; type: string; url: string }> }
    const prometheus = datasources.datasources.find((d) => d.type === 'prometheus')!
    assert.match(prometheus.url, /^http:\/\/prometheus:9090$/)
    const providers = parse(read('infra/grafana/provisioning/dashboards/sluice.yml')) as { providers: Array<{ options: { path: string } }> }
    assert.ok(compose.services.grafana.volumes.some((v: string) => v.endsWith(`:${providers.providers[0]!.options.path}:ro`)))
    const dashboard = JSON.parse(read('infra/grafana/dashboards/sluice.json')) as { panels: Array<{ title: string; datasource: { uid: string }; targets: Array<{ expr: string }> }>; templating: { list: Array<{ query: string }> } }
    const exprs = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...dashboard.templating.list.map((v) => v.query)]
    assert.ok(dashboard.panels.length >= 6)
    for (const p of dashboard.panels) assert.equal(p.datasource.uid, prometheus.uid, `${p.title} uses the provisioned datasource`)
    for (const expr of exprs) {
      const names = [...expr.matchAll(/\bsluice_[a-z0-9_]+/g)].map((m) => m[0])
      assert.ok(names.length > 0, `no sluice metric in ${expr}`)
      for (const name of names) {
        const family = name.replace(/_(bucket|sum|count)$/, '')
        assert.ok(metricNames.has(name) || metricNames.has(family), `${name} (in "${expr}") is not exported`)
      }
    }
    for (const topic of [/Records accepted/, /latency/i, /refused/i]) assert.ok(dashboard.panels.some((p) => topic.test(p.title)), `a panel for ${topic}`)
  })
})
