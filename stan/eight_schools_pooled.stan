// Eight schools (Rubin 1981; Gelman et al., Bayesian Data Analysis, section 5.5), complete
// pooling: one coaching effect mu shared by every school (the hierarchical model with tau = 0).
// The same data block as eight_schools.stan, so the two compare by PSIS-LOO school by school.
data {
  int<lower=1> J;                          // schools
  vector[J] y;                             // estimated coaching effect per school
  vector<lower=0>[J] sigma;                // its standard error
  int<lower=0, upper=1> prior_only;        // 1: ignore the likelihood (prior predictive run)
}
parameters {
  real mu;                                 // the common effect of every school
}
model {
  mu ~ normal(0, 5);                       // weakly informative: effects of a few points
  if (!prior_only) {
    y ~ normal(mu, sigma);
  }
}
generated quantities {
  vector[J] y_rep = to_vector(normal_rng(rep_vector(mu, J), sigma));
  vector[J] log_lik;
  for (j in 1:J) {
    log_lik[j] = normal_lpdf(y[j] | mu, sigma[j]);
  }
}
