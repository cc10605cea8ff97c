// The node's Prometheus metrics, through prom-client (the ecosystem's library): it writes the
// text exposition format, escapes label values and types every family, so `promtool check
// metrics` and any scraper read what we serve. This file keeps the node's small interface
// (counters it increments, gauges and counters read at scrape time, histograms) in front of
// prom-client, with synchronous readers for tests and the node itself.

import {
  collectDefaultMetrics,
  Counter as PromCounter,
  Gauge as PromGauge,
  Histogram as PromHistogram,
  Registry,
} from 'prom-client';

type Labels = Record<string, string>;
/** What a scrape-time reader returns: one value, or one value per label set. */
export type MetricReading = number | Array<{ labels: Labels; value: number }>;

/** Label values arrive from code, but a family stays bounded: past the cap they count as `other`. */
const DEFAULT_MAX_LABEL_VALUES = 64;

export class Counter {
  readonly #prom: PromCounter;
  #value = 0;
  constructor(prom: PromCounter) {
    this.#prom = prom;
  }
  inc(by = 1): void {
    // A counter only rises; a negative or non-finite step is a bug in the caller.
    if (!(by >= 0) || !Number.isFinite(by)) throw new RangeError(`counter step must be a finite non-negative number`);
    this.#value += by;
    this.#prom.inc(by);
  }
  get value(): number {
    return this.#value;
  }
}

/**
 * A counter per value of one label (`reason`, say). The values come from code, not from
 * peers, but the family is still capped: past `maxValues` distinct values, the rest count
 * under `other`.
 */
export class LabelledCounter {
  readonly label: string;
  readonly #prom: PromCounter;
  readonly #maxValues: number;
  readonly #values = new Map<string, number>();
  constructor(prom: PromCounter, label: string, maxValues = DEFAULT_MAX_LABEL_VALUES) {
    this.#prom = prom;
    this.label = label;
    this.#maxValues = maxValues;
  }
  inc(value: string, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new RangeError(`counter step must be a finite non-negative number`);
    const key = this.#values.has(value) || this.#values.size < this.#maxValues ? value : 'other';
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
    this.#prom.inc({ [this.label]: key }, by);
  }
  get(value: string): number {
    return this.#values.get(value) ?? 0;
  }
  get total(): number {
    let sum = 0;
    for (const count of this.#values.values()) sum += count;
    return sum;
  }
}

export class Histogram {
  readonly buckets: readonly number[];
  readonly #prom: PromHistogram;
  #count = 0;
  #sum = 0;
  constructor(prom: PromHistogram, buckets: readonly number[]) {
    this.#prom = prom;
    this.buckets = buckets;
  }
  observe(value: number): void {
    // NaN or a negative duration would poison _sum for good: it is a bug, not a sample.
    if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`histogram sample must be finite and ≥ 0`);
    this.#count++;
    this.#sum += value;
    this.#prom.observe(value);
  }
  get count(): number {
    return this.#count;
  }
  get sum(): number {
    return this.#sum;
  }
}

const LINTED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export interface MetricsRegistryOptions {
  /**
   * Process and Node.js runtime metrics (`process_cpu_seconds_total`,
   * `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, heap, GC…), unprefixed
   * as every Node exporter names them, so stock dashboards and alerts work.
   */
  defaultMetrics?: boolean;
  /** Labels of the `autoledger_build_info` gauge (always 1). */
  buildInfo?: Labels;
}

export class MetricsRegistry {
  /** The prom-client registry behind it, for anything this interface does not cover. */
  readonly prom = new Registry();

  constructor(options: MetricsRegistryOptions = {}) {
    if (options.defaultMetrics) {
      collectDefaultMetrics({ register: this.prom });
      // prom-client also serves these sums as gauges named `_total`, which promtool rejects
      // (only counters end in `_total`); the per-type gauges without the suffix stay.
      for (const name of LINTED_DEFAULT_METRICS) this.prom.removeSingleMetric(name);
    }
    if (options.buildInfo)
      this.info('autoledger_build_info', 'Build and chain of this node (always 1)', options.buildInfo);
  }

  /** A counter the node increments. */
  counter(name: string, help: string): Counter {
    return new Counter(new PromCounter({ name, help, registers: [this.prom] }));
  }

  /** A counter per value of `label`, bounded in values. */
  labelledCounter(name: string, help: string, label: string, maxValues = DEFAULT_MAX_LABEL_VALUES): LabelledCounter {
    return new LabelledCounter(
      new PromCounter({ name, help, labelNames: [label], registers: [this.prom] }),
      label,
      maxValues,
    );
  }

  /**
   * A counter whose running total lives elsewhere (bytes sent by the p2p host, say) and is
   * read at scrape time. Counters, not gauges, so that `rate()` and `increase()` apply.
   */
  counterFrom(name: string, help: string, read: () => MetricReading, labelNames: readonly string[] = []): void {
    new PromCounter({
      name,
      help,
      labelNames: [...labelNames],
      registers: [this.prom],
      collect() {
        this.reset();
        // A reading that is not a count (negative, NaN) is left out rather than failing the scrape.
        writeReading(read(), (labels, value) => {
          if (!(value >= 0) || !Number.isFinite(value)) return;
          if (labels) this.inc(labels, value);
          else this.inc(value);
        });
      },
    });
  }

  /** A gauge read at scrape time; a reader returning label sets must name their labels. */
  gauge(name: string, help: string, read: () => MetricReading, labelNames: readonly string[] = []): void {
    new PromGauge({
      name,
      help,
      labelNames: [...labelNames],
      registers: [this.prom],
      collect() {
        this.reset();
        writeReading(read(), (labels, value) => (labels ? this.set(labels, value) : this.set(value)));
      },
    });
  }

  /** A constant gauge of 1 whose labels carry the information (the `*_info` idiom). */
  info(name: string, help: string, labels: Labels): void {
    const gauge = new PromGauge({ name, help, labelNames: Object.keys(labels), registers: [this.prom] });
    gauge.set(labels, 1);
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    const sorted = [...buckets].sort((a, b) => a - b);
    return new Histogram(new PromHistogram({ name, help, buckets: sorted, registers: [this.prom] }), sorted);
  }

  /** The exposition text for GET /metrics. */
  render(): Promise<string> {
    return this.prom.metrics();
  }

  /** The Content-Type of what `render` returns. */
  get contentType(): string {
    return this.prom.contentType;
  }
}

function writeReading(reading: MetricReading, write: (labels: Labels | undefined, value: number) => void): void {
  if (typeof reading === 'number') {
    write(undefined, reading);
    return;
  }
  for (const entry of reading) write(entry.labels, entry.value);
}
