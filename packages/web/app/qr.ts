// The QR code of the page's own URL, so a printed listing or a windscreen sticker leads a
// buyer here. The symbol comes from `qr` (a zero-dependency encoder); this file only draws
// its module matrix as SVG, one path of unit squares with the standard 4-module quiet zone.

import encodeQR from 'qr';
import { s } from './dom.ts';

const QUIET_ZONE = 4;

export function qrCodeSvg(text: string, label: string): SVGElement {
  // Medium error correction survives a scuffed sticker; the matrix includes the quiet zone.
  const modules = encodeQR(text, 'raw', { ecc: 'medium', border: QUIET_ZONE });
  const size = modules.length;
  let d = '';
  modules.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) d += `M${x},${y}h1v1h-1z`;
    });
  });
  return s(
    'svg',
    {
      viewBox: `0 0 ${size} ${size}`,
      role: 'img',
      'aria-label': label,
      class: 'qr',
      'shape-rendering': 'crispEdges',
      'data-modules': size,
    },
    s('rect', { width: size, height: size, fill: '#fff' }),
    s('path', { d, fill: '#000' }),
  );
}
