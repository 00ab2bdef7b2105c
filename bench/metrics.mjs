// Caption metrics benchmark: COCO PTB tokenization, BLEU, ROUGE-L, CIDEr and HF/NLTK METEOR on
// 5,000 images x 5 references of synthetic, COCO-like captions generated deterministically here.
//
// Needs the compiled library: run `npm run build:ts` first (it writes dist/), then
//   node bench/metrics.mjs [--images N] [--runs R]
// Targets (one core): tokenization + BLEU + ROUGE-L + CIDEr <= 0.3 s (pycocoevalcap: 3.1 s plus the
// Java tokenizer); metrics.meteor <= 2 s. Prints a table and, last, one JSON line with the figures.
import { performance } from 'node:perf_hooks';

const lib = await import('../dist/lib/metrics/index.js').catch((err) => {
  console.error(`bench/metrics.mjs: cannot load ../dist/lib/metrics/index.js (${err.message}); run \`npm run build:ts\` first`);
  process.exit(2);
});
const { cocoTokens, prepareTokenized, cocoBleu, cocoRouge, cocoCider, scoreCaptions, meteor } = lib;

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N_IMAGES = arg('--images', 5000);
const RUNS = arg('--runs', 3);

// ------------------------------------------------------------------ synthetic captions
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(20240607);
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const maybe = (p, x, y = '') => (rnd() < p ? x : y);

const SCENES = [
  { subj: [['man', 'men'], ['woman', 'women'], ['boy', 'boys'], ['girl', 'girls'], ['person', 'people'], ['child', 'children'], ['skateboarder', 'skateboarders'], ['surfer', 'surfers'], ['tennis player', 'tennis players']],
    verb: ['riding', 'holding', 'standing next to', 'sitting on', 'walking with', 'looking at', 'playing with', 'carrying', 'throwing'],
    obj: ['a surfboard', 'a skateboard', 'a frisbee', 'an umbrella', 'a tennis racket', 'a kite', 'a bicycle', 'a cell phone', 'a red ball', 'a laptop'],
    place: ['on the beach', 'in a park', 'on a city street', 'at night', 'in the snow', 'near the water', 'on a tennis court', 'in front of a building', 'on the sidewalk', 'in a field'] },
  { subj: [['dog', 'dogs'], ['cat', 'cats'], ['horse', 'horses'], ['giraffe', 'giraffes'], ['zebra', 'zebras'], ['elephant', 'elephants'], ['sheep', 'sheep'], ['bird', 'birds'], ['cow', 'cows']],
    verb: ['standing in', 'lying on', 'eating', 'grazing in', 'walking across', 'sleeping on', 'drinking from', 'running through', 'resting under'],
    obj: ['the grass', 'a wooden bench', 'a pile of hay', 'a bowl of water', 'a blanket', 'a dirt road', 'a tree', 'a fence', 'a couch', 'a small pond'],
    place: ['at the zoo', 'in a grassy field', 'in the wild', 'on a sunny day', 'behind a fence', 'in an enclosure', 'near some trees', 'in the shade', 'on a farm', 'in a meadow'] },
  { subj: [['bus', 'buses'], ['train', 'trains'], ['truck', 'trucks'], ['car', 'cars'], ['motorcycle', 'motorcycles'], ['airplane', 'airplanes'], ['taxi', 'taxis'], ['boat', 'boats'], ['double-decker bus', 'double-decker buses']],
    verb: ['driving down', 'parked on', 'stopped at', 'traveling along', 'waiting at', 'moving through', 'crossing', 'pulling into', 'sitting in'],
    obj: ['a busy street', 'the tracks', 'a parking lot', 'a bridge', 'an intersection', 'the runway', 'a station', 'a harbor', 'a highway', 'a dirt road'],
    place: ['in the city', 'on a cloudy day', 'at dusk', 'near tall buildings', 'in the rain', 'under a blue sky', 'in heavy traffic', 'by the river', 'in the countryside', 'at the airport'] },
  { subj: [['plate', 'plates'], ['pizza', 'pizzas'], ['sandwich', 'sandwiches'], ['bowl', 'bowls'], ['cake', 'cakes'], ['donut', 'donuts'], ['salad', 'salads'], ['hot dog', 'hot dogs'], ['cup of coffee', 'cups of coffee']],
    verb: ['sitting on', 'placed on', 'served on', 'topped with', 'next to', 'covered with', 'filled with', 'arranged on', 'left on'],
    obj: ['a wooden table', 'a white plate', 'fresh vegetables', 'melted cheese', 'a napkin', 'broccoli and carrots', 'a glass of wine', 'a kitchen counter', 'a tray', 'tomato sauce'],
    place: ['in a restaurant', 'at a picnic', 'on a kitchen counter', 'for lunch', 'at a cafe', 'on a dining table', 'at a party', 'in a diner', 'near a window', 'on a desk'] },
];
const ADJ = ['young', 'old', 'small', 'large', 'brown', 'black', 'white', 'red', 'yellow', 'happy', 'tall', 'little', 'big', 'grey', 'colorful', 'busy'];
const COUNTS = [['a', 0], ['one', 0], ['two', 1], ['three', 1], ['several', 1], ['2', 1], ['some', 1]];

function nounPhrase(scene, base) {
  const [det, plural] = base ?? pick(COUNTS);
  const [sg, pl] = scene.subjNoun;
  const noun = plural ? pl : sg;
  const adj = maybe(0.6, pick(ADJ) + ' ');
  const d = det === 'a' && /^[aeiou]/.test(adj || noun) ? 'an' : det;
  return { text: `${d} ${adj}${noun}`, plural };
}

function caption(scene, count) {
  const np = nounPhrase(scene, count);
  const aux = rnd() < 0.4 ? (np.plural ? 'are ' : 'is ') : '';
  const verb = rnd() < 0.85 ? scene.mainVerb : pick(scene.verb);
  const obj = rnd() < 0.8 ? scene.mainObj : pick(scene.obj);
  const place = rnd() < 0.7 ? scene.mainPlace : pick(scene.place);
  const forms = [
    () => `${np.text} ${aux}${verb} ${obj} ${place}`,
    () => `${place[0].toUpperCase()}${place.slice(1)}, ${np.text} ${aux}${verb} ${obj}`,
    () => `There ${np.plural ? 'are' : 'is'} ${np.text} ${verb} ${obj} ${place}`,
    () => `${np.text} that ${np.plural ? 'are' : 'is'} ${verb} ${obj}`,
    () => `${np.text}'s owner ${verb} ${obj} ${place}`,
  ];
  let c = pick(forms)();
  c = c[0].toUpperCase() + c.slice(1);
  return c + pick(['', '.', '.', ' .', '!']);
}

function makeImage() {
  const s = pick(SCENES);
  const scene = { ...s, subjNoun: pick(s.subj), mainVerb: pick(s.verb), mainObj: pick(s.obj), mainPlace: pick(s.place) };
  const count = pick(COUNTS);
  const refs = Array.from({ length: 5 }, () => caption(scene, rnd() < 0.7 ? count : undefined));
  const pred = rnd() < 0.15 ? `${pick(['a picture of', 'an image of', 'a photo of'])} ${pick(['something', 'a scene', 'some things'])}` : caption(scene).toLowerCase();
  return { pred, refs };
}

const predictions = {};
const references = {};
for (let i = 0; i < N_IMAGES; i++) {
  const { pred, refs } = makeImage();
  predictions[100000 + i] = pred;
  references[100000 + i] = refs;
}
const ids = Object.keys(predictions);
const rawCaptions = ids.flatMap((id) => [predictions[id], ...references[id]]);

// ------------------------------------------------------------------ timing
// Wall time, and the CPU time of this process (user + system): on a shared, busy machine the CPU
// time is the better estimate of what the work costs on one free core.
function time(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { value, s, cpu: (c.user + c.system) / 1e6 };
}
function bench(fn, runs = RUNS) {
  const times = [];
  const cpus = [];
  let value;
  for (let r = 0; r < runs; r++) {
    const t = time(fn);
    value = t.value;
    times.push(t.s);
    cpus.push(t.cpu);
  }
  return { value, first: times[0], best: Math.min(...times), cpuFirst: cpus[0], cpuBest: Math.min(...cpus) };
}

const tok = bench(() => ids.map((id) => ({ hyp: cocoTokens(predictions[id]), refs: references[id].map(cocoTokens) })));
const images = tok.value;
const grams = bench(() => prepareTokenized(images, 4));
const bleuT = bench(() => cocoBleu(grams.value));
const rougeT = bench(() => cocoRouge(grams.value));
const ciderT = bench(() => cocoCider(grams.value));
const total = bench(() => scoreCaptions(predictions, references, { metrics: ['Bleu', 'ROUGE_L', 'CIDEr'] }));
const preds = ids.map((id) => predictions[id]);
const refs = ids.map((id) => references[id]);
const met = bench(() => meteor(preds, refs), Math.max(1, Math.min(RUNS, 2)));

const rows = [
  ['PTB tokenization', tok],
  ['n-gram interning (BLEU+CIDEr)', grams],
  ['BLEU-1..4', bleuT],
  ['ROUGE-L', rougeT],
  ['CIDEr-D', ciderT],
  ['total scoreCaptions (tok+BLEU+ROUGE-L+CIDEr)', total],
  ['metrics.meteor (NLTK flavour, incl. WordNet load on first run)', met],
];
console.log(`caption metrics: ${N_IMAGES} images x 5 references (${rawCaptions.length} captions), node ${process.version}`);
console.log(`${''.padEnd(62)} wall first / best     cpu first / best`);
for (const [name, r] of rows) {
  console.log(`${name.padEnd(62)} ${r.first.toFixed(3)} / ${r.best.toFixed(3)} s   ${r.cpuFirst.toFixed(3)} / ${r.cpuBest.toFixed(3)} s`);
}
console.log(`scores: ${JSON.stringify(total.value)} meteor ${met.value.meteor.toFixed(4)}`);
console.log(
  JSON.stringify({
    bench: 'metrics',
    images: N_IMAGES,
    captions: rawCaptions.length,
    seconds: {
      tokenize: tok.best,
      ngrams: grams.best,
      bleu: bleuT.best,
      rouge_l: rougeT.best,
      cider: ciderT.best,
      total: total.best,
      total_first: total.first,
      meteor: met.best,
      meteor_first: met.first,
    },
    cpu_seconds: Object.fromEntries(
      [['tokenize', tok], ['ngrams', grams], ['bleu', bleuT], ['rouge_l', rougeT], ['cider', ciderT], ['total', total], ['meteor', met]].map(([k, r]) => [k, r.cpuBest]),
    ),
    targets: { total: 0.3, meteor: 2 },
  }),
);
