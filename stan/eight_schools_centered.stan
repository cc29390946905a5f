// Eight schools (Rubin 1981; Gelman et al., Bayesian Data Analysis, section 5.5), centred
// hierarchy: theta ~ normal(mu, tau) directly. The same model and priors as eight_schools.stan;
// with so little data per school its posterior has the funnel between tau and theta that gives
// NUTS divergences (a higher adapt_delta reduces them), which the non-centred form avoids.
data {
  int<lower=1> J;                          // schools
  vector[J] y;                             // estimated coaching effect per school
  vector<lower=0>[J] sigma;                // its standard error
  int<lower=0, upper=1> prior_only;        // 1: ignore the likelihood (prior predictive run)
}
parameters {
  real mu;                                 // population mean effect
  real<lower=0> tau;                       // between-school standard deviation
  vector[J] theta;                         // school effects
}
model {
  mu ~ normal(0, 5);                       // weakly informative: effects of a few points
  tau ~ cauchy(0, 5);                      // half-Cauchy (tau > 0), Gelman (2006)
  theta ~ normal(mu, tau);                 // centred: the funnel as tau approaches 0
  if (!prior_only) {
    y ~ normal(theta, sigma);
  }
}
generated quantities {
  vector[J] y_rep = to_vector(normal_rng(theta, sigma));
  vector[J] log_lik;
  for (j in 1:J) {
    log_lik[j] = normal_lpdf(y[j] | theta[j], sigma[j]);
  }
}
