// Issue 4, Call Park through the buttons: four real Chromium pages (alice, bob, carol and
// dave; fake microphones). Alice parks bob and is told the orbit; the other pages' parked
// panels show the call live (pool, parties, the time left ticking); carol retrieves it
// from the panel and talks to bob; the
// panel empties everywhere. Directed park on a typed orbit, retrieve by a typed orbit,
// and a retrieve of an empty orbit that gets a clear error. Audio is proven from each
// page's getStats, and the music on hold is told to be pool-a's by its frequencies.
import { expect, test } from './demo';
import { restoreNormal } from './support';
import {
  POOL_A_HZ,
  POOL_B_HZ,
  alertBox,
  alertText,
  press,
  callWith,
  closeAll,
  connect,
  expectAudio,
  expectMusic,
  expectNoMusic,
  expectOffersOnlyAllowed,
  expectParkedShown,
  hangUpAll,
  liveCalls,
  orbitField,
  parked,
  parkedAt,
  parkFocus,
  parkNotice,
  refusals,
  tabsFor,
  type Tab,
} from './story-support';

const POOL_A_ORBIT = /\b70\d\d\b/;
// Generous: each page compiles a 6 MB WASM module, and on a loaded two-core machine
// four of them starting can take a minute. This bounds a hang, it times nothing.
const SLOW = 240_000;

let tabs: Tab[] = [];

test.beforeEach(async ({ request }) => restoreNormal(request));
test.afterEach(async ({ request }) => {
  await hangUpAll(tabs);
  await closeAll(tabs);
  tabs = [];
  await restoreNormal(request);
});

test('alice parks bob, the others see it live, carol retrieves it from the panel', async ({ browser }) => {
  test.setTimeout(SLOW);
  const [alice, bob, carol, dave] = (tabs = await tabsFor(browser, ['alice', 'bob', 'carol', 'dave']));
  for (const t of [carol, dave]) await expect(parked(t.page), `${t.user}'s panel starts empty`).toHaveCount(0);

  await connect(alice, bob);
  await expectAudio(alice, 'alice hears bob');
  await expectAudio(bob, 'bob hears alice');
  await expectOffersOnlyAllowed(alice, 'normal');

  // Park: alice is freed and told the orbit; bob stays connected, to the music.
  const parkedCall = callWith(alice.page, 'bob');
  const id = await parkedCall.getAttribute('data-call-id');
  const orbit = await parkFocus(alice, POOL_A_ORBIT);
  await expect(parkNotice(alice.page)).toHaveText(`Parked bob on orbit ${orbit}`);
  await expect(liveCalls(alice.page), 'alice has no call once bob is parked').toHaveCount(0, { timeout: 10_000 });
  // Her call list keeps the call, ended, with the orbit it went to.
  await expect(alice.page.locator(`[data-call-id="${id}"]`)).toHaveAttribute('data-call-state', 'ended');
  await expect(alice.page.locator(`[data-call-id="${id}"]`)).toHaveAttribute('data-orbit', orbit);
  await expect(liveCalls(bob.page), 'bob is still in his call').toHaveCount(1);
  await expectAudio(bob, 'bob hears music on hold');
  const music = await expectMusic(bob, POOL_A_HZ, POOL_B_HZ, 'bob parked on pool-a');

  // The parked panel on the other pages shows it live (alice's too): the pool, who is
  // parked and by whom, and the time left, ticking down.
  for (const t of [carol, dave, alice]) await expectParkedShown(t, orbit, 'bob', 'alice');
  const onCarols = parkedAt(carol.page, orbit);
  await expect(carol.page.locator('[data-part="parked-pool"]')).toHaveText('Parked on pool-a');
  await expect(onCarols.locator('[data-part="parked-peer"]')).toHaveText('bob');
  await expect(onCarols.locator('[data-part="parked-left"]')).toHaveText(/^\d+ s left$/);
  const left = Number(await onCarols.getAttribute('data-seconds-left'));
  await expect.poll(async () => Number(await onCarols.getAttribute('data-seconds-left')), { message: 'the time left ticks' }).toBeLessThan(left);
  for (const t of [alice, bob, carol, dave]) await expectOffersOnlyAllowed(t, 'normal');

  // Carol picks it up from her panel.
  await parkedAt(carol.page, orbit).locator('[data-part="parked-retrieve"]').click();
  const cc = callWith(carol.page, 'bob');
  await expect(cc, 'carol is connected to bob').toHaveAttribute('data-call-state', 'active', { timeout: 15_000 });
  await expect(liveCalls(bob.page)).toHaveCount(1);
  await expect(liveCalls(bob.page)).toHaveAttribute('data-call-state', 'active');
  await expect(alertBox(carol.page)).toBeHidden();
  await expectAudio(carol, 'carol hears bob');
  await expectAudio(bob, 'bob hears carol');
  // …and no longer the music: 660 Hz is far from anything Chromium's fake microphone makes.
  await expectNoMusic(bob, 660, music[660], 'bob retrieved by carol');
  for (const t of [alice, bob, carol, dave]) await expect(parked(t.page), `${t.user}'s panel is empty again`).toHaveCount(0, { timeout: 10_000 });
  for (const t of [alice, bob, carol, dave]) await expectOffersOnlyAllowed(t, 'normal');

  await press(carol.page, 'hangup');
  await expect(liveCalls(carol.page)).toHaveCount(0, { timeout: 10_000 });
  await expect(liveCalls(bob.page)).toHaveCount(0, { timeout: 10_000 });
  for (const t of tabs) expect(await refusals(t)).toEqual([]);
});

test('directed park on a typed orbit, retrieved by typing the orbit; an empty orbit is a clear error', async ({ browser }) => {
  test.setTimeout(SLOW);
  const [alice, bob, dave] = (tabs = await tabsFor(browser, ['alice', 'bob', 'dave']));

  await connect(alice, bob);
  const want = '7042';
  const orbit = await parkFocus(alice, POOL_A_ORBIT, want);
  expect(orbit).toBe(want);
  await expect(liveCalls(alice.page)).toHaveCount(0, { timeout: 10_000 });
  await expectParkedShown(dave, want, 'bob', 'alice');
  await expectMusic(bob, POOL_A_HZ, POOL_B_HZ, 'bob parked on 7042');

  // Dave retrieves by typing the orbit.
  await orbitField(dave.page).fill(want);
  await press(dave.page, 'retrieve');
  const dc = callWith(dave.page, 'bob');
  await expect(dc, 'dave is connected to bob').toHaveAttribute('data-call-state', 'active', { timeout: 15_000 });
  await expectAudio(dave, 'dave hears bob');
  await expectAudio(bob, 'bob hears dave');
  for (const t of [alice, bob, dave]) await expect(parked(t.page)).toHaveCount(0, { timeout: 10_000 });
  await press(dave.page, 'hangup');
  await expect(liveCalls(bob.page)).toHaveCount(0, { timeout: 10_000 });

  // Nothing is parked on 7043: the retrieve is answered with a clear error, and leaves
  // no call behind.
  await expect(parked(dave.page)).toHaveCount(0);
  await orbitField(dave.page).fill('7043');
  await press(dave.page, 'retrieve');
  await expect(alertBox(dave.page)).toBeVisible({ timeout: 15_000 });
  await expect(alertText(dave.page)).toContainText(/not found|nothing is parked|no call is parked/i);
  await expect(alertText(dave.page)).toContainText('7043');
  await expect(alertBox(dave.page), 'an empty orbit is not a capability refusal').not.toHaveAttribute('data-code', 'refused');
  await expect(liveCalls(dave.page)).toHaveCount(0, { timeout: 10_000 });
  await expectOffersOnlyAllowed(dave, 'normal');
  for (const t of tabs) expect(await refusals(t)).toEqual([]);
});
