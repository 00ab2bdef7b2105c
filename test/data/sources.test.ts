import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { datasets, type DataItem } from '../../lib/data/index.js';
import { FormatError, InvalidArgumentError } from '../../lib/errors.js';
import { solidImage, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
let red: Buffer;
let blue: Buffer;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  red = await solidImage(8, 6, [255, 0, 0], 'jpeg');
  blue = await solidImage(8, 6, [0, 0, 255]);
});
afterAll(() => cleanup());

const simplify = (x: DataItem): { id: string; image: unknown; captions: string[] } =>
  ({ id: x.id, image: typeof x.image === 'string' ? x.image : 'bytes', captions: x.captions });

describe('datasets.coco', () => {
  it('groups captions by image_id in images[] order, drops uncaptioned images by default', async () => {
    const images = path.join(dir, 'coco', 'train2017');
    mkdirSync(images, { recursive: true });
    writeFileSync(path.join(images, '000000000009.jpg'), red);
    writeFileSync(path.join(images, '000000000025.jpg'), red);
    const ann = path.join(dir, 'coco', 'captions_train2017.json');
    writeFileSync(ann, JSON.stringify({
      info: {}, licenses: [],
      images: [
        { id: 25, file_name: '000000000025.jpg', width: 8, height: 6 },
        { id: 9, file_name: '000000000009.jpg', width: 8, height: 6 },
        { id: 30, file_name: '000000000030.jpg', width: 8, height: 6 },
      ],
      annotations: [
        { image_id: 9, id: 1, caption: 'A plate of food.' },
        { image_id: 25, id: 2, caption: 'A giraffe eating.' },
        { image_id: 9, id: 3, caption: 'Broccoli and bread.' },
        { image_id: 25, id: 4, caption: 'A tall giraffe.' },
        { image_id: 9, id: 5, caption: 'Lunch in a box.' },
      ],
    }));
    const ds = datasets.coco({ annotations: ann, images });
    expect((await ds.toArray()).map(simplify)).toEqual([
      { id: '25', image: path.join(images, '000000000025.jpg'), captions: ['A giraffe eating.', 'A tall giraffe.'] },
      { id: '9', image: path.join(images, '000000000009.jpg'), captions: ['A plate of food.', 'Broccoli and bread.', 'Lunch in a box.'] },
    ]);
    expect(await ds.hasRandomAccess()).toBe(true);
    expect(await ds.size()).toBe(2);
    const all = await datasets.coco({ annotations: ann, images, keepUncaptioned: true }).toArray();
    expect(all.map((x) => x.id)).toEqual(['25', '9', '30']);
    expect(all[2]!.captions).toEqual([]);
  });

  it('names the file when it is missing or malformed', async () => {
    await expect(datasets.coco({ annotations: path.join(dir, 'nope.json'), images: dir }).toArray()).rejects.toThrow(/nope\.json/);
    const bad = path.join(dir, 'bad-coco.json');
    writeFileSync(bad, '{"images": [');
    await expect(datasets.coco({ annotations: bad, images: dir }).toArray()).rejects.toThrow(FormatError);
    writeFileSync(bad, '{"images": []}');
    await expect(datasets.coco({ annotations: bad, images: dir }).toArray()).rejects.toThrow(/annotations/);
    expect(() => datasets.coco({ annotations: 3 as unknown as string, images: dir })).toThrow(InvalidArgumentError);
  });
});

describe('datasets.karpathy', () => {
  const json = (): string => {
    const file = path.join(dir, 'dataset_coco.json');
    const sent = (raw: string): { raw: string; tokens: string[] } => ({ raw, tokens: raw.toLowerCase().split(' ') });
    writeFileSync(file, JSON.stringify({
      dataset: 'coco',
      images: [
        { filepath: 'val2014', filename: 'a.jpg', split: 'test', cocoid: 1, sentences: [sent('A dog.'), sent('A brown dog.')] },
        { filepath: 'train2014', filename: 'b.jpg', split: 'train', cocoid: 2, sentences: [sent('A cat.')] },
        { filepath: 'val2014', filename: 'c.jpg', split: 'restval', cocoid: 3, sentences: [sent('A bird.')] },
        { filepath: 'val2014', filename: 'd.jpg', split: 'val', cocoid: 4, sentences: [sent('A fish.')] },
      ],
    }));
    return file;
  };

  it('selects splits and folds restval into train', async () => {
    const file = json();
    const root = path.join(dir, 'mscoco');
    const get = async (split?: 'train' | 'val' | 'test' | 'restval' | 'all', foldRestval?: boolean): Promise<string[]> =>
      (await datasets.karpathy({ json: file, images: root, split, foldRestval }).toArray()).map((x) => x.id);
    expect(await get()).toEqual(['2', '3']);
    expect(await get('train', false)).toEqual(['2']);
    expect(await get('test')).toEqual(['1']);
    expect(await get('val')).toEqual(['4']);
    expect(await get('restval')).toEqual(['3']);
    expect(await get('all')).toEqual(['1', '2', '3', '4']);
    const [a] = await datasets.karpathy({ json: file, images: root, split: 'test' }).toArray();
    expect(a).toEqual({ id: '1', image: path.join(root, 'val2014', 'a.jpg'), captions: ['A dog.', 'A brown dog.'] });
    expect(() => datasets.karpathy({ json: file, images: root, split: 'dev' as 'val' })).toThrow(InvalidArgumentError);
  });

  it('handles the Flickr layout (no filepath, imgid ids)', async () => {
    const file = path.join(dir, 'dataset_flickr8k.json');
    writeFileSync(file, JSON.stringify({
      dataset: 'flickr8k',
      images: [{ filename: '1000268201_693b08cb0e.jpg', imgid: 0, split: 'train', sentences: [{ tokens: ['a', 'child'], raw: 'A child .' }] }],
    }));
    const items = await datasets.karpathy({ json: file, images: '/data/Flicker8k_Dataset' }).toArray();
    expect(items).toEqual([{ id: '0', image: '/data/Flicker8k_Dataset/1000268201_693b08cb0e.jpg', captions: ['A child .'] }]);
  });
});

describe('datasets.jsonl', () => {
  it('streams items, resolves paths, accepts key variants, marks bad lines', async () => {
    const file = path.join(dir, 'manifest.jsonl');
    writeFileSync(file, [
      JSON.stringify({ image: 'a.jpg', captions: ['one', 'two'] }),
      '',
      JSON.stringify({ file_name: 'sub/b.png', caption: 'three', id: 'bee' }),
      '{not json',
      JSON.stringify({ image: '/abs/c.jpg', text: 'four', image_id: 7 }),
      JSON.stringify({ captions: ['no image'] }),
      JSON.stringify({ image: 'd.jpg', sentences: [{ raw: 'five' }, { raw: 'six' }] }),
    ].join('\n') + '\n');
    const ds = datasets.jsonl(file, { imageRoot: '/imgs' });
    expect(await ds.hasRandomAccess()).toBe(false);
    const items = await ds.toArray();
    expect(items.map(simplify)).toEqual([
      { id: 'a.jpg', image: '/imgs/a.jpg', captions: ['one', 'two'] },
      { id: 'bee', image: '/imgs/sub/b.png', captions: ['three'] },
      { id: 'manifest.jsonl:4', image: '', captions: [] },
      { id: '7', image: '/abs/c.jpg', captions: ['four'] },
      { id: 'manifest.jsonl:6', image: '', captions: [] },
      { id: 'd.jpg', image: '/imgs/d.jpg', captions: ['five', 'six'] },
    ]);
    expect(items[2]!.error).toBe('bad_manifest_line');
    expect(items[4]!.error).toBe('bad_manifest_line');
    expect((await ds.toArray({ start: 3 })).map((x) => x.id)).toEqual(['7', 'manifest.jsonl:6', 'd.jpg']);
    // explicit fields, and the default root is the manifest's folder
    const file2 = path.join(dir, 'm2.jsonl');
    writeFileSync(file2, '\uFEFF' + JSON.stringify({ pic: 'x.jpg', desc: ['hello'], key: 'k1' }) + '\r\n');
    const [x] = await datasets.jsonl(file2, { imageField: 'pic', captionField: 'desc', idField: 'key' }).toArray();
    expect(x).toEqual({ id: 'k1', image: path.join(dir, 'x.jpg'), captions: ['hello'] });
    await expect(datasets.jsonl(path.join(dir, 'missing.jsonl')).toArray()).rejects.toThrow(/missing\.jsonl/);
  });
});

describe('datasets.csv', () => {
  it('groups rows by image anywhere in the file and splits |-separated captions', async () => {
    const file = path.join(dir, 'captions.csv');
    writeFileSync(file, [
      'image,caption',
      'a.jpg,A dog runs.',
      'b.jpg,"A cat, sleeping."',
      'a.jpg,A dog plays.',
      'c.jpg,first|second|third',
      'b.jpg,"He said ""hi""."',
    ].join('\r\n'));
    const ds = datasets.csv(file);
    expect((await ds.toArray()).map(simplify)).toEqual([
      { id: 'a.jpg', image: path.join(dir, 'a.jpg'), captions: ['A dog runs.', 'A dog plays.'] },
      { id: 'b.jpg', image: path.join(dir, 'b.jpg'), captions: ['A cat, sleeping.', 'He said "hi".'] },
      { id: 'c.jpg', image: path.join(dir, 'c.jpg'), captions: ['first', 'second', 'third'] },
    ]);
    expect(await ds.size()).toBe(3);
  });

  it('takes column names, a delimiter, an id column, and no caption separator', async () => {
    const file = path.join(dir, 'results.csv');
    writeFileSync(file, 'image_name| comment_number| comment\n1.jpg| 0| A man in a hat .\n1.jpg| 1| A person .\n2.jpg| 0| A dog .\n');
    const flickr = await datasets.csv(file, { imageColumn: 'image_name', captionColumn: 'comment', delimiter: '|', imageRoot: '/f30k' }).toArray();
    expect(flickr).toEqual([
      { id: '1.jpg', image: '/f30k/1.jpg', captions: [' A man in a hat .', ' A person .'] }, // the loader trims captions
      { id: '2.jpg', image: '/f30k/2.jpg', captions: [' A dog .'] },
    ]);
    const file2 = path.join(dir, 'ids.csv');
    writeFileSync(file2, 'key;path;text\nk1;x.jpg;a | b\nk2;y.jpg;c\n');
    const items = await datasets.csv(file2, { idColumn: 'key', imageColumn: 'path', captionColumn: 'text', delimiter: ';', captionSeparator: null }).toArray();
    expect(items.map(simplify)).toEqual([
      { id: 'k1', image: path.join(dir, 'x.jpg'), captions: ['a | b'] },
      { id: 'k2', image: path.join(dir, 'y.jpg'), captions: ['c'] },
    ]);
    await expect(datasets.csv(file2, { delimiter: ';' }).toArray()).rejects.toThrow(/column "image".*key, path, text/);
  });
});

describe('datasets.imageFolder', () => {
  it('lists images sorted (recursively) with same-name .txt captions', async () => {
    const root = path.join(dir, 'folder');
    mkdirSync(path.join(root, 'sub'), { recursive: true });
    writeFileSync(path.join(root, 'b.jpg'), red);
    writeFileSync(path.join(root, 'b.txt'), 'a red image\r\nsomething red\n\n');
    writeFileSync(path.join(root, 'a.png'), blue);
    writeFileSync(path.join(root, 'a.txt'), 'a blue image');
    writeFileSync(path.join(root, 'notes.md'), 'ignored');
    writeFileSync(path.join(root, 'sub', 'c.JPEG'), red);
    writeFileSync(path.join(root, 'sub', 'c.txt'), 'nested');
    writeFileSync(path.join(root, 'd.webp'), blue); // no caption file
    const items = await datasets.imageFolder(root).toArray();
    expect(items.map(simplify)).toEqual([
      { id: 'a', image: path.join(root, 'a.png'), captions: ['a blue image'] },
      { id: 'b', image: path.join(root, 'b.jpg'), captions: ['a red image', 'something red'] },
      { id: 'd', image: path.join(root, 'd.webp'), captions: [] },
      { id: 'sub/c', image: path.join(root, 'sub', 'c.JPEG'), captions: ['nested'] },
    ]);
    expect((await datasets.imageFolder(root, { recursive: false }).toArray()).map((x) => x.id)).toEqual(['a', 'b', 'd']);
    await expect(datasets.imageFolder(path.join(dir, 'no-such-dir')).toArray()).rejects.toThrow(FormatError);
  });
});

describe('datasets.parquet', () => {
  function writeParquet(file: string, n: number, rowGroupSize: number): void {
    const images = Array.from({ length: n }, (_, i) => (i === 3 ? { bytes: null, path: 'on-disk.jpg' } : { bytes: i % 2 ? red : blue, path: `img${i}.jpg` }));
    const text = Array.from({ length: n }, (_, i) => (i === 5 ? [`caption ${i}`, `another ${i}`] : [`caption ${i}`]));
    const buf = parquetWriteBuffer({
      columnData: [{ name: 'image', data: images }, { name: 'sentences', data: text }, { name: 'image_id', data: Array.from({ length: n }, (_, i) => 1000 + i) }],
      schema: [
        { name: 'root', num_children: 3 },
        { name: 'image', repetition_type: 'OPTIONAL', num_children: 2 },
        { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
        { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'sentences', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'image_id', type: 'INT32', repetition_type: 'REQUIRED' },
      ],
      rowGroupSize,
    });
    writeFileSync(file, Buffer.from(buf));
  }

  it('reads {bytes, path} structs and list captions, row group by row group', async () => {
    const file = path.join(dir, 'train-00000-of-00001.parquet');
    writeParquet(file, 10, 4);
    const ds = datasets.parquet(file);
    expect(await ds.size()).toBe(10);
    const items = await ds.toArray();
    expect(items).toHaveLength(10);
    expect(items[0]!.id).toBe('1000');
    expect(Buffer.isBuffer(items[0]!.image)).toBe(true);
    expect(Buffer.compare(items[0]!.image as Buffer, blue)).toBe(0);
    expect(Buffer.compare(items[1]!.image as Buffer, red)).toBe(0);
    expect(items[3]!.image).toBe(path.join(dir, 'on-disk.jpg'));
    expect(items[5]!.captions).toEqual(['caption 5', 'another 5']);
    expect((await ds.toArray({ start: 6 })).map((x) => x.id)).toEqual(['1006', '1007', '1008', '1009']);
    expect((await ds.toArray({ start: 4, limit: 2 })).map((x) => x.id)).toEqual(['1004', '1005']);
  });

  it('reads plain binary image columns and string captions, with explicit column names', async () => {
    const file = path.join(dir, 'plain.parquet');
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'jpg', data: [red, new Uint8Array(0), blue], type: 'BYTE_ARRAY' },
        { name: 'txt', data: ['r', 'empty', 'b'], type: 'STRING' },
      ],
    });
    writeFileSync(file, Buffer.from(buf));
    const items = await datasets.parquet(file, { imageColumn: 'jpg', textColumn: 'txt' }).toArray();
    expect(items.map((x) => [x.id, x.captions])).toEqual([['plain.parquet#0', ['r']], ['plain.parquet#1', ['empty']], ['plain.parquet#2', ['b']]]);
    expect((items[1]!.image as Buffer).length).toBe(0);
    await expect(datasets.parquet(file).toArray()).rejects.toThrow(/column "image".*jpg, txt/);
    await expect(datasets.parquet(file, { imageColumn: 'jpg' }).toArray()).rejects.toThrow(/text column/);
    writeFileSync(path.join(dir, 'junk.parquet'), 'not parquet at all');
    await expect(datasets.parquet(path.join(dir, 'junk.parquet'), { imageColumn: 'jpg' }).toArray()).rejects.toThrow(FormatError);
  });

  it('streams a larger file without holding it all (one row group ahead)', async () => {
    const file = path.join(dir, 'many.parquet');
    writeParquet(file, 300, 25);
    let n = 0;
    for await (const x of datasets.parquet(file).shuffle({ seed: 1, buffer_size: 10 })) {
      expect(x.captions.length).toBeGreaterThan(0);
      n++;
    }
    expect(n).toBe(300);
  });
});
