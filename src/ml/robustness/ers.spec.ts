import { empiricalRobustnessScore, ersIfComplete } from './ers';

describe('ERS', () => {
  it('is 100 for a perfectly robust model', () => {
    const ideal = {
      'CA+': 50,
      'CA-': 0,
      'QA+': 50,
      'QA-': 0,
      TMA: 0,
      'ES:D': 0,
      'ES:R': 100,
      LTM: 100,
      GTM: 100,
      GTT: 100,
    };
    expect(empiricalRobustnessScore(ideal)).toBeCloseTo(100, 10);
  });

  it('is 0 for a perfectly broken model', () => {
    const broken = {
      'CA+': 0,
      'CA-': 100,
      'QA+': 0,
      'QA-': 100,
      TMA: 1,
      'ES:D': 2,
      'ES:R': 0,
      LTM: 0,
      GTM: 0,
      GTT: 0,
    };
    expect(empiricalRobustnessScore(broken)).toBeCloseTo(0, 10);
  });

  it('follows the formula term by term for an undefended-like model', () => {
    const f = {
      'CA+': 2.1,
      'CA-': 90,
      'QA+': 3,
      'QA-': 80,
      TMA: 0.9,
      'ES:D': 1.7,
      'ES:R': 0,
      LTM: 0,
      GTM: 14.1,
      GTT: 2,
    };
    // (4.2 + 10 + 6 + 20 + 10 + 15 + 0 + 0 + 14.1 + 2) / 10
    expect(empiricalRobustnessScore(f)).toBeCloseTo(8.13, 10);
  });

  it('has no value for a partial suite', () => {
    expect(ersIfComplete({ 'ES:R': 10, 'ES:D': 1 })).toBeNull();
    expect(() => empiricalRobustnessScore({ 'ES:R': 10 } as never)).toThrow(/'CA\+' is missing/);
  });
});
