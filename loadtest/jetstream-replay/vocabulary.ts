// The generator's fixed vocabulary. Post text is built only from these words,
// hashtags and emoji, so a search test can pick a word and know which generated
// posts contain it. A few hundred words across eight languages, with accents,
// CJK, Hangul and Cyrillic, so byte offsets and text search meet real scripts.

export const LANGUAGES = ['en', 'ja', 'pt', 'de', 'es', 'ko', 'fr', 'ru'] as const;
export type Language = (typeof LANGUAGES)[number];

export const VOCABULARY: Readonly<Record<Language, readonly string[]>> = {
  en: [
    'the', 'and', 'is', 'to', 'of', 'my', 'this', 'that', 'for', 'with', 'we', 'it', 'just', 'really', 'think', 'finally',
    'amazing', 'today', 'tonight', 'people', 'everyone', 'love', 'great', 'new', 'never', 'always', 'maybe', 'morning',
    'coffee', 'lighthouse', 'garden', 'weekend', 'sunset', 'library', 'rainstorm', 'bicycle', 'harbor', 'pancake', 'thunder',
    'volcano', 'meadow', 'keyboard', 'midnight', 'festival', 'orchard', 'penguin', 'compass', 'lantern', 'marathon', 'quantum',
    'recipe', 'saxophone', 'telescope', 'umbrella', 'waterfall', 'cinnamon', 'dragonfly', 'election', 'podcast', 'sourdough',
    'typewriter', 'glacier', 'firefly', 'museum', 'notebook', 'railway', 'snowfall', 'tomato', 'violin', 'workshop', 'zeppelin',
  ],
  ja: [
    '今日', '明日', '昨日', '天気', '猫', '犬', 'ラーメン', '電車', '桜', '東京', '大阪', '映画', '音楽', '仕事', '週末', '朝ごはん',
    'コーヒー', '本当に', 'すごい', '楽しい', '眠い', '可愛い', '写真', '散歩', '雨', '夏休み', '花火', '温泉', '友達', '新しい', 'ゲーム',
    'アニメ', '漫画', '絵', '描いた', '見た', '行った', '食べた', '嬉しい', 'ありがとう', 'おはよう', 'お疲れ様', '頑張る', '夜', '海',
  ],
  pt: [
    'hoje', 'amanhã', 'saudade', 'praia', 'café', 'futebol', 'música', 'trabalho', 'cidade', 'obrigado', 'muito', 'bom', 'dia',
    'noite', 'gente', 'amigo', 'feliz', 'verdade', 'coração', 'chuva', 'sol', 'festa', 'livro', 'viagem', 'comida', 'cachorro',
    'gato', 'novela', 'eleição', 'sempre', 'nunca', 'agora', 'também', 'pão', 'queijo', 'samba', 'floresta', 'janela', 'caminho',
    'sonho', 'você', 'nossa', 'está', 'são', 'com',
  ],
  de: [
    'heute', 'morgen', 'Kaffee', 'Wetter', 'Arbeit', 'Feierabend', 'Zug', 'Bahnhof', 'Fahrrad', 'Wochenende', 'Brötchen', 'schön',
    'wirklich', 'Straße', 'Gemütlichkeit', 'Buch', 'Hund', 'Katze', 'Regen', 'Sonne', 'Wald', 'Berg', 'See', 'Freunde', 'Geschichte',
    'Wahl', 'Nachrichten', 'Musik', 'Konzert', 'Sommer', 'Winter', 'endlich', 'immer', 'vielleicht', 'danke', 'genau', 'Mädchen',
    'Fußball', 'Käse', 'Brezel', 'über', 'für', 'und', 'ist', 'nicht',
  ],
  es: [
    'hoy', 'mañana', 'ayer', 'playa', 'fútbol', 'trabajo', 'ciudad', 'gracias', 'mucho', 'bueno', 'noche', 'amiga', 'verdad',
    'corazón', 'lluvia', 'fiesta', 'libro', 'viaje', 'perro', 'canción', 'montaña', 'siempre', 'ahora', 'niño', 'año', 'película',
    'tortilla', 'mercado', 'escuela', 'familia', 'abuela', 'cerveza', 'guitarra', 'pero', 'que', 'muy', 'elecciones', 'cielo',
    'mar', 'fuego', 'sueño', 'camino', 'luna', 'tarde', 'bonito',
  ],
  ko: [
    '오늘', '내일', '어제', '날씨', '고양이', '강아지', '커피', '음악', '영화', '사진', '친구', '주말', '회사', '학교', '서울', '부산',
    '여름', '겨울', '비', '눈', '바다', '산', '책', '게임', '노래', '콘서트', '맛있다', '진짜', '너무', '정말', '행복', '감사합니다',
    '안녕하세요', '사랑', '시간', '생각', '마음', '우리', '함께', '오랜만에', '드디어', '기다리다', '보고싶다', '좋아요', '최고',
  ],
  fr: [
    "aujourd'hui", 'demain', 'hier', 'travail', 'ville', 'merci', 'beaucoup', 'bonjour', 'soir', 'gens', 'ami', 'heureux', 'vérité',
    'cœur', 'pluie', 'soleil', 'fête', 'livre', 'voyage', 'chien', 'chat', 'chanson', 'montagne', 'toujours', 'jamais', 'maintenant',
    'aussi', 'fromage', 'baguette', 'boulangerie', 'musée', 'école', 'famille', 'vélo', 'élection', 'printemps', 'été', 'hiver',
    'très', 'mais', 'avec', 'pour', 'est', 'une', 'croissant',
  ],
  ru: [
    'сегодня', 'завтра', 'вчера', 'погода', 'кошка', 'собака', 'кофе', 'музыка', 'кино', 'работа', 'город', 'друг', 'спасибо',
    'очень', 'хорошо', 'ночь', 'люди', 'счастье', 'правда', 'сердце', 'дождь', 'солнце', 'праздник', 'книга', 'путешествие',
    'песня', 'горы', 'всегда', 'никогда', 'сейчас', 'тоже', 'чай', 'снег', 'зима', 'лето', 'весна', 'море', 'дом', 'семья',
    'новости', 'выборы', 'метро', 'наконец', 'привет', 'это',
  ],
};

/** Japanese is written without spaces: words are joined by these particles. */
export const JA_PARTICLES = ['の', 'は', 'が', 'を', 'に', 'で', 'と', 'も'] as const;

/** Hashtags (without '#'), some non-ASCII so facet byte offsets differ from string offsets. */
export const HASHTAGS = [
  'bluesky', 'art', 'photography', 'news', 'music', 'gamedev', 'caturday', 'science', 'booksky', 'politics', 'dogsofbluesky',
  'nature', 'writing', 'anime', 'OpenSource', 'TTRPG', '100DaysOfCode', 'fotografia', 'café', 'música', 'Fußball', 'élection',
  '東京', '日本語', '음악', 'новости',
] as const;

/** Emoji, including multi-code-point graphemes (skin tone, ZWJ family, flags). */
export const EMOJI = [
  '😂', '❤️', '🔥', '👍🏽', '🎉', '😭', '✨', '🙏', '👨‍👩‍👧', '🇯🇵', '🇧🇷', '💙', '🦋', '🥰', '😅', '🤔', '☕', '🌸', '👀', '💀',
] as const;

/** Sites for links and link cards; some URLs carry '&' (Go's JSON writes it as \u0026). */
export const LINK_SITES: readonly { host: string; path: (id: string, word: string) => string }[] = [
  { host: 'www.youtube.com', path: (id, word) => `/watch?v=${id}&t=${word.length * 7}s` },
  { host: 'www.theguardian.com', path: (id, word) => `/world/2026/jul/04/${word}-${id.toLowerCase()}` },
  { host: 'github.com', path: (id, word) => `/${word}/${id.toLowerCase()}` },
  { host: 'en.wikipedia.org', path: (_id, word) => `/wiki/${word[0]!.toUpperCase()}${word.slice(1)}` },
  { host: 'www.bbc.co.uk', path: (id) => `/news/articles/c${id.toLowerCase()}o` },
  { host: 'www.tumblr.com', path: (id, word) => `/${word}-tales/${id}?source=share` },
  { host: 'open.spotify.com', path: (id) => `/track/${id}` },
  { host: 'g1.globo.com', path: (id, word) => `/economia/noticia/2026/07/04/${word}-${id.toLowerCase()}.ghtml` },
  { host: 'www3.nhk.or.jp', path: (id) => `/news/html/20260704/k${id.toLowerCase()}.html` },
  { host: 'www.spiegel.de', path: (id, word) => `/panorama/${word}-a-${id.toLowerCase()}` },
  { host: 'substack.com', path: (id, word) => `/@${word}/p-${id.toLowerCase()}?utm_source=bsky&utm_medium=social` },
];

/** Stems of handles and display names. */
export const NAME_STEMS = [
  'alice', 'bruno', 'chiaki', 'dana', 'emil', 'fatima', 'gustavo', 'hana', 'ivan', 'jun', 'kofi', 'lena', 'marco', 'nadia',
  'oscar', 'priya', 'quinn', 'rafael', 'sora', 'tomas', 'ulla', 'vera', 'wen', 'xochitl', 'yuki', 'zane',
] as const;

export const SELF_LABELS = ['nsfw', 'sexual', 'porn', 'graphic-media'] as const;

/** For fm.teal.alpha.actor.status (a scrobbler's "now playing"): artist i sings track i. */
export const MUSIC = {
  artists: ['Dianna Lopez', 'The Paper Kites', 'Hikaru Utada', 'Caetano Veloso', 'Kraftwerk', 'Rosalía', 'IU', 'Stromae'],
  tracks: ['Sacred Sands', 'Bloom', 'First Love', 'Sozinho', 'Autobahn', 'Malamente', 'Blueming', 'Papaoutai'],
} as const;
