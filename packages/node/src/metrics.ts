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
