// Issue 4, Transfer through the buttons, in real Chromium pages with fake microphones:
// blind (the Number field names the target, then Transfer) and attended (a held call and
// an active consult call, the Number field empty, then Transfer: the held party is
// connected to the consulted one; what Transfer will do is said on the button and beside
// it, and follows the Number field). Audio between the two who end up together is proven
// from both pages' getStats; the one who transferred is left with no call.
import { expect, test } from './demo';
import { alertRegion, button, restoreNormal } from './support';
import {
  answer,
  press,
  callWith,
  closeAll,
  connect,
  dial,
  expectAudio,
  expectOffersOnlyAllowed,
  focusCall,
  hangUpAll,
  liveCalls,
  numberField,
  refusals,
  tabsFor,
  type Tab,
} from './story-support';

let tabs: Tab[] = [];
// Generous: each page compiles a 6 MB WASM module, and on a loaded two-core machine
// three of them starting can take a minute. This bounds a hang, it times nothing.
const SLOW = 240_000;

test.beforeEach(async ({ request }) => restoreNormal(request));
test.afterEach(async ({ request }) => {
  await hangUpAll(tabs);
  await closeAll(tabs);
  tabs = [];
  await restoreNormal(request);
});

test('blind transfer: alice sends bob to carol, carol answers, bob and carol talk', async ({ browser }) => {
  test.setTimeout(SLOW);
  const [carol, alice, bob] = (tabs = await tabsFor(browser, ['carol', 'alice', 'bob']));

  await connect(alice, bob);
  await expectAudio(bob, 'bob hears alice');

  await numberField(alice.page).fill('carol');
  await expectOffersOnlyAllowed(alice, 'normal');
  await press(alice.page, 'transfer');

  // Carol rings from bob (the transferred party), and answers.
  await answer(carol, 'bob');
  await expect(liveCalls(alice.page), 'alice is out of it').toHaveCount(0, { timeout: 15_000 });
  await expect(liveCalls(bob.page), 'bob has one call').toHaveCount(1, { timeout: 15_000 });
  await expect(liveCalls(bob.page)).toHaveAttribute('data-call-state', 'active', { timeout: 15_000 });
  await expect(liveCalls(bob.page).locator('[data-part="call-peer"]'), 'bob now talks to carol').toContainText('carol', {
    timeout: 15_000,
  });
  await expectAudio(carol, 'carol hears bob');
  await expectAudio(bob, 'bob hears carol');
  for (const t of tabs) await expectOffersOnlyAllowed(t, 'normal');

  await press(carol.page, 'hangup');
  await expect(liveCalls(bob.page)).toHaveCount(0, { timeout: 10_000 });
  for (const t of tabs) expect(await refusals(t)).toEqual([]);
});

test('attended transfer: alice holds bob, consults carol, then joins them', async ({ browser }) => {
  test.setTimeout(SLOW);
  const [carol, alice, bob] = (tabs = await tabsFor(browser, ['carol', 'alice', 'bob']));

  const { ac: toBob } = await connect(alice, bob);
  await press(alice.page, 'hold');
  await expect(toBob).toHaveAttribute('data-call-state', 'held', { timeout: 10_000 });
  await expectOffersOnlyAllowed(alice, 'normal');

  // The consult call: alice and carol talk while bob waits on hold.
  const toCarol = await dial(alice, 'carol');
  await answer(carol, 'alice');
  await expect(toCarol).toHaveAttribute('data-call-state', 'active', { timeout: 15_000 });
  await expect(liveCalls(alice.page)).toHaveCount(2);
  await expect(toBob, 'bob is still held').toHaveAttribute('data-call-state', 'held');
  await expect(focusCall(alice.page), 'the consult call is in focus').toHaveAttribute('data-call-id', (await toCarol.getAttribute('data-call-id'))!);
  await expectAudio(carol, 'carol hears alice');
  await expectOffersOnlyAllowed(alice, 'normal');

  // With the Number field empty, Transfer says it will connect the held call with the
  // active one. Typing a number turns it into a blind transfer of the focus call;
  // clearing it turns it back.
  const transfer = button(alice.page, 'transfer');
  await numberField(alice.page).fill('');
  await expect(transfer).toBeEnabled();
  await expect(transfer).toHaveAttribute('data-transfer', 'attended');
  await expect(transfer).toHaveAccessibleDescription('Attended transfer: connect bob with carol');
  await numberField(alice.page).fill('dave');
  await expect(transfer).toHaveAttribute('data-transfer', 'blind');
  await expect(alice.page.locator('[data-part="transfer-mode"]')).toHaveText('Blind transfer of carol to dave');
  await numberField(alice.page).fill('');
  await expect(transfer).toHaveAttribute('data-transfer', 'attended');

  // Number empty + Transfer: the held call goes to the active call's party.
  await press(alice.page, 'transfer');
  await expect(liveCalls(alice.page), 'alice has no calls').toHaveCount(0, { timeout: 15_000 });
  await expect(alertRegion(alice.page)).toBeHidden();
  const cb = callWith(carol.page, 'bob');
  await expect(cb, 'carol is connected to bob').toHaveAttribute('data-call-state', 'active', { timeout: 15_000 });
  await expect(liveCalls(carol.page)).toHaveCount(1);
  await expect(liveCalls(bob.page)).toHaveCount(1);
  await expect(liveCalls(bob.page)).toHaveAttribute('data-call-state', 'active', { timeout: 15_000 });
  await expect(liveCalls(bob.page).locator('[data-part="call-peer"]'), 'bob now talks to carol').toContainText('carol', {
    timeout: 15_000,
  });
  await expectAudio(carol, 'carol hears bob');
  await expectAudio(bob, 'bob hears carol');
  for (const t of tabs) await expectOffersOnlyAllowed(t, 'normal');

  await press(bob.page, 'hangup');
  await expect(liveCalls(carol.page)).toHaveCount(0, { timeout: 10_000 });
  for (const t of tabs) expect(await refusals(t)).toEqual([]);
});
