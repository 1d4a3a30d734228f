/**
 * `plot --out`: the SVG is a valid image. It is rendered in headless Chromium (the browser suite's,
 * page served from 127.0.0.1) and must have the size it declares and not be blank (the variance of
 * its pixels). With TFJS_CKPT_UPDATE_SCREENSHOT=1 the rendering is saved as docs/cli-plot.png (the
 * README's picture).
 */
import assert from 'node:assert/strict';
import { copyFile, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { tempDir } from '../helpers.js';
import { CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, serve } from '../browser/harness.js';
import { ensureBuilt, runCli, trainWithCheckpoints } from './cli_helpers.js';

let root: string;
let svgPath: string;

before(async () => {
  ensureBuilt();
  root = await tempDir('tfjs-ckpt-cli-plot-');
  await trainWithCheckpoints(join(root, 'run/weights.{epoch:02d}-{val_loss:.2f}'), { epochs: 10 });
  svgPath = join(root, 'metrics.svg');
  const r = await runCli(['plot', join(root, 'run'), '--out', svgPath]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^Wrote ${svgPath}$`, 'm'));
});

describe('plot --out', () => {
  it('writes a standalone SVG document: both series, a marker per checkpoint, the best ringed', async () => {
    const svg = await readFile(svgPath, 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="720" height="400"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
    assert.equal((svg.match(/<circle [^>]*r="3\.5"/g) ?? []).length, 20);
    assert.match(svg, />best: weights\.\d\d-\d\.\d\d</);
    assert.match(svg, />val_loss \(monitored\)</);
  });

  describe('rendered in headless Chromium', { skip: NO_CHROMIUM }, () => {
    let browser: Browser;
    before(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });
    after(() => browser?.close());

    it('is an image of its declared size that is not blank', async () => {
      const server = await serve({ '/plot.svg': svgPath, '/index.html': { text: '<!doctype html><body style="margin:0"><img id="plot" src="/plot.svg"></body>' } });
      const page = await browser.newPage({ viewport: { width: 800, height: 480 } });
      try {
        await page.goto(`${server.url}/index.html`);
        const measured = await page.evaluate(async () => {
          const img = document.getElementById('plot') as HTMLImageElement;
          await img.decode();
          const canvas = document.createElement('canvas');
          canvas.width = img.naturalWidth;
          canvas.height = img.naturalHeight;
          const g = canvas.getContext('2d')!;
          g.drawImage(img, 0, 0);
          const { data } = g.getImageData(0, 0, canvas.width, canvas.height);
          let sum = 0;
          let squares = 0;
          let coloured = 0;
          const n = data.length / 4;
          for (let i = 0; i < data.length; i += 4) {
            const luma = 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
            sum += luma;
            squares += luma * luma;
            if (Math.max(data[i]!, data[i + 1]!, data[i + 2]!) - Math.min(data[i]!, data[i + 1]!, data[i + 2]!) > 60) coloured++;
          }
          const mean = sum / n;
          return { width: img.naturalWidth, height: img.naturalHeight, variance: squares / n - mean * mean, colouredShare: coloured / n };
        });
        assert.equal(measured.width, 720);
        assert.equal(measured.height, 400);
        assert.ok(measured.variance > 100, `the image is blank (pixel variance ${measured.variance})`);
        assert.ok(measured.colouredShare > 0.002, `the series are not drawn (${measured.colouredShare} of the pixels are coloured)`);
        const png = join(root, 'cli-plot.png');
        await page.locator('#plot').screenshot({ path: png });
        assert.ok((await stat(png)).size > 10_000, 'the PNG shows the chart');
        if (process.env['TFJS_CKPT_UPDATE_SCREENSHOT']) await copyFile(png, 'docs/cli-plot.png');
      } finally {
        await page.close();
        await server.close();
      }
    });
  });
});
