import { DEFENSE_NAMES } from '../defenses';
import { checkClassesPerBatch } from '../training/config';
import { validateReproduce } from './reproduce';
import { budgetFor, MIN_QUERIES_MEDIUM } from './reproduce-budgets';
import { ROBRANK_DEFENSES, ROBRANK_MNIST_PUBLISHED } from './robrank';

describe("budget 'robrank' (RobRank's MNIST protocol)", () => {
  const budget = budgetFor('mnist-all', 'robrank');

  it('attacks at least 1,000 queries with the published attack: eps 77/255, alpha 3/255, 32 steps', () => {
    expect(budget.evaluation.sampleSize).toBeGreaterThanOrEqual(MIN_QUERIES_MEDIUM);
    expect(budget.evaluation.sampleSize).toBeGreaterThanOrEqual(1000);
    expect(budget.evaluation.eps).toBe(77 / 255);
    expect(budget.evaluation.alpha).toBe(3 / 255);
    expect(budget.evaluation.steps).toBe(32);
    // The gallery is the whole MNIST test split.
    expect(budget.maxTest).toBe(10000);
  });

  it('trains C2F2 (512-d) with an adversary at eps 77/255 in batches that fit ten classes', () => {
    expect(budget.backbone).toBe('c2f2');
    expect(budget.embeddingDim).toBe(512);
    expect(budget.training.eps).toBe(77 / 255);
    expect(budget.training.steps * budget.training.alpha).toBeGreaterThanOrEqual(77 / 255);
    expect(budget.learningRate).toBe(1e-3);
    expect(budget.schedule).toBe('constant');
    expect(() =>
      checkClassesPerBatch(budget.batchSize, budget.perClass, 10, 'mnist-all'),
    ).not.toThrow();
    // RobRank's 8 epochs of 128-pair batches: 3,750 steps of 256 images.
    expect(budget.epochs * budget.stepsPerEpoch * budget.batchSize).toBeGreaterThanOrEqual(
      0.95 * 3750 * 256,
    );
  });

  it("exists for mnist-all only, and validates with the published table's defences", () => {
    const options = { datasets: ['mnist-all'], outDir: '/tmp/x', budget: 'robrank' as const };
    expect(() => validateReproduce({ ...options, defenses: ROBRANK_DEFENSES })).not.toThrow();
    expect(() =>
      validateReproduce({ ...options, datasets: ['mnist'], defenses: ['none'] }),
    ).toThrow(/data set 'mnist' has no 'robrank' budget/);
    expect(() =>
      validateReproduce({
        ...options,
        datasets: ['mnist-all'],
        budget: 'medium',
        defenses: ['none'],
      }),
    ).toThrow(/data set 'mnist-all' has no 'medium' budget \(it has smoke, robrank\)/);
  });

  it("holds RobRank's published natural R@1 / ERS, each row mapped to a defence of this repository", () => {
    expect(ROBRANK_MNIST_PUBLISHED.map((r) => [r.defense, r.recallAt1, r.ers])).toEqual([
      ['none', 99.0, 13.3],
      ['est', 98.3, 40.5],
      ['act', 98.6, 78.6],
      ['hm-ics', 99.0, 77.9],
    ]);
    for (const defense of ROBRANK_DEFENSES) expect(DEFENSE_NAMES).toContain(defense);
  });
});
