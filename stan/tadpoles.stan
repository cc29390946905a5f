// Reed-frog tadpoles: varying intercepts per tank (Statistical Rethinking, model 13.2),
// written non-centered: logit(p_i) = a_bar + sigma * z_i with z_i ~ normal(0, 1).
data {
  int<lower=1> N;                          // tanks
  array[N] int<lower=1> density;           // tadpoles at the start
  array[N] int<lower=0> surv;              // survivors
  int<lower=0, upper=1> prior_only;        // 1: ignore the likelihood (prior predictive run)
}
parameters {
  real a_bar;                              // mean log-odds of survival
  real<lower=0> sigma;                     // spread of the tank log-odds
  vector[N] z;                             // standardized tank effects
}
transformed parameters {
  vector[N] a = a_bar + sigma * z;         // tank log-odds
}
model {
  a_bar ~ normal(0, 1.5);
  sigma ~ exponential(1);
  z ~ std_normal();
  if (!prior_only) {
    surv ~ binomial_logit(density, a);
  }
}
generated quantities {
  vector[N] p = inv_logit(a);              // survival probability per tank
  array[N] int surv_rep = binomial_rng(density, p);
  vector[N] log_lik;
  for (i in 1:N) {
    log_lik[i] = binomial_logit_lpmf(surv[i] | density[i], a[i]);
  }
}
