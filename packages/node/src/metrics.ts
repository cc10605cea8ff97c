// A small Prometheus text-format registry: counters, gauges (read at scrape time) and
// histograms. The node exposes a handful of series, so a dependency would be overkill.

type Labels = Record<string, string>;

function formatLabels(labels: Labels | undefined): string {
  if (!labels || Object.keys(labels).length === 0) return '';
  const parts = Object.entries(labels).map(([key, value]) => `${key}="${value.replace(/["\\\n]/g, '\\$&')}"`);
  return `{${parts.join(',')}}`;
}

interface Series {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

export class Counter {
  #value = 0;
  inc(by = 1): void {
    this.#value += by;
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
  readonly #maxValues: number;
  readonly #values = new Map<string, number>();
  constructor(label: string, maxValues = 64) {
    this.label = label;
    this.#maxValues = maxValues;
  }
  inc(value: string, by = 1): void {
    const key = this.#values.has(value) || this.#values.size < this.#maxValues ? value : 'other';
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }
  get(value: string): number {
    return this.#values.get(value) ?? 0;
  }
  get total(): number {
    let sum = 0;
    for (const count of this.#values.values()) sum += count;
    return sum;
  }
  render(name: string): string[] {
    return [...this.#values]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([value, count]) => `${name}${formatLabels({ [this.label]: value })} ${count}`);
  }
}

export class Histogram {
  readonly buckets: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  constructor(buckets: readonly number[]) {
    this.buckets = [...buckets].sort((a, b) => a - b);
    this.#counts = this.buckets.map(() => 0);
  }
  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= (this.buckets[i] as number)) this.#counts[i] = (this.#counts[i] as number) + 1;
    }
  }
  get count(): number {
    return this.#count;
  }
  render(name: string): string[] {
    const lines = this.buckets.map((bound, i) => `${name}_bucket{le="${bound}"} ${this.#counts[i]}`);
    lines.push(`${name}_bucket{le="+Inf"} ${this.#count}`, `${name}_sum ${this.#sum}`, `${name}_count ${this.#count}`);
    return lines;
  }
}

export class MetricsRegistry {
  readonly #series: Series[] = [];

  counter(name: string, help: string): Counter {
    const counter = new Counter();
    this.#series.push({ name, help, type: 'counter', render: () => [`${name} ${counter.value}`] });
    return counter;
  }

  labelledCounter(name: string, help: string, label: string): LabelledCounter {
    const counter = new LabelledCounter(label);
    this.#series.push({ name, help, type: 'counter', render: () => counter.render(name) });
    return counter;
  }

  gauge(name: string, help: string, read: () => number | Array<{ labels: Labels; value: number }>): void {
    this.#series.push({
      name,
      help,
      type: 'gauge',
      render: () => {
        const value = read();
        return typeof value === 'number'
          ? [`${name} ${value}`]
          : value.map((entry) => `${name}${formatLabels(entry.labels)} ${entry.value}`);
      },
    });
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    const histogram = new Histogram(buckets);
    this.#series.push({ name, help, type: 'histogram', render: () => histogram.render(name) });
    return histogram;
  }

  render(): string {
    const lines: string[] = [];
    for (const series of this.#series) {
      lines.push(`# HELP ${series.name} ${series.help}`, `# TYPE ${series.name} ${series.type}`, ...series.render());
    }
    return `${lines.join('\n')}\n`;
  }
}
