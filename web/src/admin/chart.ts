// Charts of the dashboard, drawn by uPlot (small and fast: one canvas per
// chart), with a text summary for screen readers.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#ca8a04"];

/** A chart of named series over time. */
export class Chart {
  readonly el: HTMLElement;
  private plot: uPlot | null = null;
  private names: string[] = [];
  private readonly summary: HTMLElement;
  private readonly box: HTMLElement;

  constructor(parent: HTMLElement, readonly title: string, private readonly unit: string) {
    this.el = document.createElement("figure");
    this.el.className = "chart";
    const caption = document.createElement("figcaption");
    caption.textContent = title;
    this.box = document.createElement("div");
    this.box.setAttribute("role", "img");
    this.box.setAttribute("aria-label", title);
    this.summary = document.createElement("p");
    this.summary.className = "visually-hidden";
    this.summary.setAttribute("aria-live", "off");
    this.el.append(caption, this.box, this.summary);
    parent.append(this.el);
  }

  /** Draws times (unix s) against each named series. */
  set(times: number[], series: Record<string, number[]>): void {
    const names = Object.keys(series);
    if (!this.plot || names.join("\u0000") !== this.names.join("\u0000")) this.create(names);
    this.plot!.setData([times, ...names.map((n) => series[n]!)]);
    this.el.dataset.points = String(times.length);
    const last = names.map((n) => `${n} ${format(series[n]!.at(-1) ?? 0)}${this.unit}`).join(", ");
    this.el.dataset.last = last;
    this.summary.textContent = `${this.title}, latest: ${last || "no data"}`;
  }

  private create(names: string[]): void {
    this.plot?.destroy();
    this.names = names;
    const width = Math.max(280, this.box.clientWidth || 420);
    this.plot = new uPlot({
      width,
      height: 180,
      legend: { live: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{ stroke: "currentColor" }, { stroke: "currentColor", size: 60, values: (_u, vals) => vals.map(format) }],
      series: [{}, ...names.map((label, i) => ({ label, stroke: PALETTE[i % PALETTE.length]!, width: 1.5, points: { show: false } }))],
    }, [[], ...names.map(() => [])], this.box);
  }
}

/** Short numbers: 1.2k, 3.4M. */
export function format(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n * 10) / 10);
}
