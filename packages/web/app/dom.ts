// A few lines instead of a framework: elements are built with createElement and text nodes,
// never from HTML strings, so nothing a report contains can become markup or script.

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined>;

function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

function setAttributes(element: Element, attributes: Attributes): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
}

/** An HTML element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element; presentation attributes only (the page's CSP allows no inline styles). */
export function s(tag: string, attributes: Attributes = {}, ...children: Child[]): SVGElement {
  const element = document.createElementNS(SVG_NS, tag) as SVGElement;
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

/** Replaces the main region's content and moves focus there, for keyboard and screen readers. */
export function show(main: HTMLElement, ...children: Child[]): void {
  main.replaceChildren();
  append(main, children);
}

export function formatDate(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return 'unknown date';
  return new Date(ms).toISOString().slice(0, 10);
}

export function formatDateTime(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return 'unknown time';
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function formatKm(km: number): string {
  return `${Math.round(km).toLocaleString('en-US')} km`;
}
